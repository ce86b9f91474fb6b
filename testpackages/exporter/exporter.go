// Package exporter defines a plugin group for tests, the way a program
// defines its own: the group's name and the interface its entry points
// provide. It knows nothing of entry points; the modules csvexporter and
// jsonexporter declare exporters in their entry_points.txt, and a program
// loads them with discovery.Load[exporter.Exporter](exporter.Group).
package exporter

// Group is the entry-point group of exporters.
const Group = "myapp.exporters"

// An Exporter formats a record.
type Exporter interface {
	Export(fields ...string) string
}
