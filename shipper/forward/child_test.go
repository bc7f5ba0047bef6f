package forward

const childEnv = "CAPSTAN_FORWARD_CHILD"

func runChild() int { return 2 }
