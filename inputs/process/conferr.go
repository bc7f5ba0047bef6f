package process

import "strings"

// FieldError and Errors have the shape of component/conf's, which the
// configuration of every component returns; until that package exists they
// live here. To switch, replace the two types and their Error methods by
// aliases (type FieldError = conf.FieldError; type Errors = conf.Errors);
// the package defines no other method on them.

// FieldError is one problem with one key; Path is relative to the chain,
// e.g. processors[2].drop_if.
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errors are all the problems found; it is an error whose text has one line
// per problem.
type Errors []FieldError

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, fe := range e {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

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

func joinPath(prefix, p string) string {
	switch {
	case prefix == "":
		return p
	case p == "":
		return prefix
	case p[0] == '[':
		return prefix + p
	}
	return prefix + "." + p
}
