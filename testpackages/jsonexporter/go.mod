module github.com/go-entrypoints/entrypoints/testpackages/jsonexporter

go 1.26.0

require github.com/go-entrypoints/entrypoints/testpackages/exporter v0.0.0

replace github.com/go-entrypoints/entrypoints/testpackages/exporter => ../exporter
