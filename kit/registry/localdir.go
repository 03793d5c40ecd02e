package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// LocalDir returns the directory a file:// URL names: file:///abs/dir, or file://rel/dir with
// the host and path joined so that a relative directory can be written naturally (as kit/db's
// sqlite:// does), and file:///C:/dir meaning C:\dir on Windows. what names the directory in
// errors ("cache directory").
func LocalDir(u *url.URL, what string) (string, error) {
	const want = "want file:///absolute/dir or file://relative/dir"
	if u.Opaque != "" {
		return "", fmt.Errorf("%s %q is not after %s:// (%s)", what, u.Opaque, u.Scheme, want)
	}
	dir := u.Host + u.Path
	if dir == "" {
		return "", fmt.Errorf("no %s in URL (%s)", what, want)
	}
	if strings.ContainsRune(dir, 0) {
		return "", errors.New(what + " name contains NUL")
	}
	if runtime.GOOS == "windows" && len(dir) >= 3 && dir[0] == '/' && dir[2] == ':' {
		dir = dir[1:]
	}
	return filepath.Clean(filepath.FromSlash(dir)), nil
}

// FileMode returns the octal permission option name (e.g. file_mode=0640), or def when it is
// absent. The mode must grant its owner at least need (0600 for files a process rewrites, 0700
// for directories it creates files in), so an option cannot lock the process out of its own data.
func (o *Options) FileMode(name string, def, need fs.FileMode) fs.FileMode {
	v, ok := o.raw(name)
	if !ok {
		return def
	}
	m, err := strconv.ParseUint(v, 8, 32)
	if err != nil || m > 0o777 {
		o.fail(name, v, "not an octal permission (want e.g. 0640 or 0750)")
		return def
	}
	if fs.FileMode(m)&need != need {
		o.fail(name, v, fmt.Sprintf("must give the owner at least %s (%04o)", need.String()[1:4], need))
		return def
	}
	return fs.FileMode(m)
}
