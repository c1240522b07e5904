package chaos

import "github.com/faultline-dev/faultline/internal/exitcode"

func exitcodeOf(err error) exitcode.Code { return exitcode.Of(err) }
