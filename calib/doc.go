// Package calib owns calibration statistics: the importance matrix (per
// weight, the mean squared activation of each input column, as
// llama-imatrix computes it) and the input covariances (mean x·xᵀ) that
// GPTQ assignment uses. It reads and writes llama.cpp's imatrix files; the
// statistics are collected by running a model over text in calib/llamacalib
// (cgo, through bridge), so this package and the converter stay pure Go.
package calib

// Stats are the statistics of one model over calibration text, by weight name.
type Stats struct {
	Imatrix    map[string][]float32 // mean x² per input column
	Covariance map[string][]float64 // mean x·xᵀ, cols×cols row-major; only weights narrow enough to keep
}

// DefaultCtx is the tokens per calibration chunk that convert and finetune
// share: the setting the calibration and fine-tuning measurements used.
const DefaultCtx = 256

// DefaultChunks is at most how many chunks calibration reads or samples.
const DefaultChunks = 100
