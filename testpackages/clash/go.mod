module github.com/go-entrypoints/entrypoints/testpackages/clash

go 1.26.0

require github.com/go-entrypoints/entrypoints v0.0.0

replace github.com/go-entrypoints/entrypoints => ../..
