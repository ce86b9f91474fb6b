module github.com/go-entrypoints/entrypoints

go 1.25.0
