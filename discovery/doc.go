// Package discovery finds entry points declared by the modules of a Go
// workspace and registers rendezvous handlers from them: the Go counterpart
// of Python's importlib.metadata.entry_points and of PyTorch's
// _register_out_of_tree_handlers.
//
// A module declares entry points in an entry_points.txt file at its root:
//
//	# comment
//	[torchrun.handlers]
//	myhandler = example.com/myhandler:NewHandler
//
// A user adds the module to the workspace of a program (go work use
// ./myhandler) and the program calls Discover, which registers myhandler in
// the registry package's default registry.
//
// Go cannot import code at run time, so an entry point's code reaches the
// program in one of two ways. Linking: the entrypoints command, run by go
// generate in the program's main package, writes a file that imports every
// package named by an entry point of the workspace and passes its symbols to
// Link; the entry points then travel with the binary wherever it runs.
// Dynamic loading: a program that imports package discovery/dynamic builds
// the declared but unlinked entry points of its workspace as a Go plugin and
// loads them. When neither applies, Discover says which entry point is
// missing, where it is declared, and what command fixes it.
//
// The workspace is found as the go command finds it (GOWORK, then the
// nearest go.work), and only counts if the running binary was built from it;
// WithWorkspace names one explicitly.
package discovery
