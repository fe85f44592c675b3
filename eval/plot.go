package eval

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// PlotPoint is one quantized file: its method (one series per method),
// whole-file bpw and mean KLD against the base.
type PlotPoint struct {
	Method string
	BPW    float64
	KLD    float64
}

// kldFloor keeps log-scale points of near-lossless files on the plot.
const kldFloor = 1e-5

// PlotKLD draws mean KLD (log scale) against whole-file bpw, one line per
// method, and writes a PNG to path through a temporary file.
func PlotKLD(points []PlotPoint, title, path string) error {
	if len(points) == 0 {
		return fmt.Errorf("no points to plot")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "whole-file bits per weight"
	p.Y.Label.Text = "mean KLD (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true

	series := map[string]plotter.XYs{}
	var methods []string
	for _, pt := range points {
		if _, ok := series[pt.Method]; !ok {
			methods = append(methods, pt.Method)
		}
		series[pt.Method] = append(series[pt.Method], plotter.XY{X: pt.BPW, Y: math.Max(pt.KLD, kldFloor)})
	}
	for i, m := range methods {
		xy := series[m]
		sort.Slice(xy, func(a, b int) bool { return xy[a].X < xy[b].X })
		line, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("plotting %s: %w", m, err)
		}
		c := plotutil.Color(i)
		line.Color, pts.Color = c, c
		pts.Shape = plotutil.Shape(i)
		pts.Radius = vg.Points(3)
		line.Width = vg.Points(1.5)
		if len(xy) == 1 {
			line.Color = color.Transparent
		}
		p.Add(line, pts)
		p.Legend.Add(m, line, pts)
	}
	// Room around the extreme points so markers are not cut at the frame.
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, xy := range series {
		for _, q := range xy {
			xmin, xmax = math.Min(xmin, q.X), math.Max(xmax, q.X)
			ymin, ymax = math.Min(ymin, q.Y), math.Max(ymax, q.Y)
		}
	}
	p.X.Min, p.X.Max = xmin-0.05*(xmax-xmin)-0.1, xmax+0.05*(xmax-xmin)+0.1
	p.Y.Min, p.Y.Max = ymin/1.5, ymax*3 // log scale; headroom for the legend

	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := wt.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
