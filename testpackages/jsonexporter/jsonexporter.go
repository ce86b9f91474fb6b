// Package jsonexporter provides an exporter.Exporter, declared in its
// module's entry_points.txt as the var JSON.
package jsonexporter

import (
	"encoding/json"

	"github.com/go-entrypoints/entrypoints/testpackages/exporter"
)

// JSON is the entry point: an exporter ready to use.
var JSON exporter.Exporter = Encoder{}

// Encoder exports fields as a JSON array.
type Encoder struct{}

// Export returns the fields as a JSON array.
func (Encoder) Export(fields ...string) string {
	b, _ := json.Marshal(fields)
	return string(b)
}
