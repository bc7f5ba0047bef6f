package process

import (
	"github.com/capstan-agent/capstan/component/conf"
)

// FieldError and Errors are component/conf's: a processor's Validate
// returns Errors with key paths relative to the processor, the chain's with
// paths relative to the chain (processors[2].drop_if).
type (
	FieldError = conf.FieldError
	Errors     = conf.Errors
)

// errorList collects problems while checking; err returns them as Errors.
type errorList []FieldError

// add records a problem at path.
func (e *errorList) add(path, msg string) { *e = append(*e, FieldError{Path: path, Msg: msg}) }

// addErr records err at path: the FieldErrors an error holds get path as a
// prefix, any other error is one problem at path.
func (e *errorList) addErr(path string, err error) {
	switch v := err.(type) {
	case nil:
	case Errors:
		for _, fe := range v {
			*e = append(*e, FieldError{Path: joinPath(path, fe.Path), Msg: fe.Msg})
		}
	case FieldError:
		*e = append(*e, FieldError{Path: joinPath(path, v.Path), Msg: v.Msg})
	default:
		e.add(path, err.Error())
	}
}

// err returns e as Errors, or nil when it is empty.
func (e errorList) err() error {
	if len(e) == 0 {
		return nil
	}
	return Errors(e)
}

func joinPath(prefix, p string) string { return conf.JoinPath(prefix, p) }
