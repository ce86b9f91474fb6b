// Package csvexporter provides an exporter.Exporter, declared in its
// module's entry_points.txt as the factory New.
package csvexporter

import (
	"strings"

	"github.com/go-entrypoints/entrypoints/testpackages/exporter"
)

// New is the entry point: a factory that returns a new exporter.
func New() exporter.Exporter { return csv{} }

type csv struct{}

// Export joins the fields with commas.
func (csv) Export(fields ...string) string { return strings.Join(fields, ",") }
