package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/pocketgguf/pocketgguf/converter"
	"github.com/urfave/cli/v2"
)

func init() {
	register(&cli.Command{
		Name:      "inspect",
		Usage:     "show per-tensor storage (type, v, K, sharing, bits per weight, rel_rmse) and whole-file totals of any GGUF",
		ArgsUsage: "FILE.gguf",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.StringFlag{Name: "compare", Usage: "reference GGUF (e.g. the converter's input): also print each tensor's relative RMS error against it and the overall one"},
		},
		Action: func(c *cli.Context) error {
			args, err := parseTrailingFlags(c)
			if err != nil {
				return fmt.Errorf("inspect: %w", err)
			}
			if len(args) != 1 {
				return fmt.Errorf("inspect: want one FILE.gguf, got %d arguments", len(args))
			}
			r, err := converter.Inspect(args[0])
			if err != nil {
				return fmt.Errorf("inspect: %w", err)
			}
			var cmp *converter.Comparison
			if ref := c.String("compare"); ref != "" {
				if cmp, err = converter.Compare(ref, args[0]); err != nil {
					return fmt.Errorf("inspect --compare: %w", err)
				}
				for i := range r.Tensors {
					if e, ok := cmp.PerTensor[r.Tensors[i].Name]; ok {
						r.Tensors[i].RelRMSE = &e
					}
				}
			}
			if c.Bool("json") {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			tw := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, "name\tshape\ttype\tv\tK\tsharing\tbytes\tbpw\trel_rmse\t")
			for _, t := range r.Tensors {
				v, k, rel := "-", "-", "-"
				if t.V > 0 {
					v, k = fmt.Sprint(t.V), fmt.Sprint(t.K)
				}
				if t.RelRMSE != nil {
					rel = fmt.Sprintf("%.4f", *t.RelRMSE)
				}
				sh := t.Sharing
				if sh == "" {
					sh = "-"
				}
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\t%s\t%d\t%.3f\t%s\t\n", t.Name, t.Shape, t.Type, v, k, sh, t.Bytes, t.BPW, rel)
			}
			tw.Flush()
			fmt.Printf("\n%s: %d bytes, %d weights, %.3f bits per weight (whole file), %.2fx smaller than F16 (%d bytes)\n",
				r.Path, r.FileBytes, r.Elements, r.BPW, r.RatioF16, r.F16Bytes)
			fmt.Printf("metadata %d bytes, pocket.* keys %d bytes, %d tables\n", r.MetadataBytes, r.PocketBytes, r.Tables)
			if cmp != nil {
				fmt.Printf("relative RMS error against %s: %.4f over the %d weights of %d changed tensors\n", c.String("compare"), cmp.Overall, cmp.Weights, len(cmp.PerTensor))
			}
			return nil
		},
	})
}
