// Compiles the table builder into the Go package ggmlext (cgo builds only the .c files of
// the package folder), so Go tests hold it equal to format.Table.BuildLUT.
#include "src/types.c"
#include "src/lut.c"
