package discovery

// ResetLinked empties the linked table for a test and returns a function
// that restores it.
func ResetLinked() (restore func()) {
	linked.Lock()
	saved := linked.eps
	linked.eps = nil
	linked.Unlock()
	return func() {
		linked.Lock()
		linked.eps = saved
		linked.Unlock()
	}
}

// SetMainModule pretends the running binary's main module is path.
func SetMainModule(path string) (restore func()) {
	saved := mainModule
	mainModule = func() string { return path }
	return func() { mainModule = saved }
}
