// Package recipe decides and runs what `pocketgguf convert` does around the
// conversion itself: calibration on text the model samples (or the user's
// text), GPTQ error feedback, and end-to-end fine-tuning against the input
// model. Without --fast, the steps no flag pins are chosen to fit a time
// budget: the strongest recipe whose estimated time fits wins (Choose), and
// Run carries it out, writing OUT only when every step succeeded.
//
// The estimate is a function of the model's shape and the flags alone, never
// of a clock or of --threads, so the same input, flags and seed give the same
// bytes on every machine: the budget is read as time on the reference machine
// the cost model was measured on (cost.go), and the printed estimate says so.
package recipe
