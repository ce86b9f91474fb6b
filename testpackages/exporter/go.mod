module github.com/go-entrypoints/entrypoints/testpackages/exporter

go 1.26.0
