package cmd

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lambdoctor/lambdoctor/imagefs/source"
	"github.com/lambdoctor/lambdoctor/internal/bytesize"
)

// progressLine shows, on a terminal, how the transfers of a load advance
// (the layers a registry pull is reading, a daemon's export): one line on
// stderr, rewritten in place ("\r", then erase to the end of the line) and
// erased when the last transfer ends, so that nothing of it stays above
// the report. It is the source.Options.Progress of a load.
type progressLine struct {
	w     io.Writer
	width int           // the terminal's columns: the line is cut to width-1, so it never wraps
	every time.Duration // between redraws
	now   func() time.Time

	mu     sync.Mutex
	active map[int]source.Progress // by layer number; 0 is a daemon export
	start  time.Time               // when the first of the active transfers began
	bytes  int64                   // bytes the transfers read since start
	drawn  time.Time               // the last redraw
	shown  bool                    // a line is on the terminal
}

// progressFor returns the Progress of a load's source options: the
// progress line on stderr when it is a terminal that can erase a line,
// unless quiet; nil otherwise.
func progressFor(streams *IOStreams, quiet bool) func(source.Progress) {
	if !streams.ErrTTY || quiet || streams.getenv("TERM") == "dumb" {
		return nil
	}
	return newProgressLine(streams.Err, streams.errWidth()).update
}

// progressEvery is the pause between redraws: often enough to look live,
// rarely enough to cost nothing.
const progressEvery = 100 * time.Millisecond

func newProgressLine(w io.Writer, width int) *progressLine {
	if width <= 0 {
		width = 80
	}
	return &progressLine{w: w, width: width, every: progressEvery, now: time.Now, active: map[int]source.Progress{}}
}

// update records p and redraws the line (at most every p.every, except
// that a transfer's start and end always redraw, so that every layer shows
// at least once; the end of the last one erases the line).
func (l *progressLine) update(p source.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	prev, known := l.active[p.Layer]
	if !known && len(l.active) == 0 {
		l.start, l.bytes = now, 0
	}
	if d := p.Read - prev.Read; known && d > 0 {
		l.bytes += d
	} else if !known {
		l.bytes += p.Read
	}
	if p.Done {
		delete(l.active, p.Layer)
		if len(l.active) == 0 {
			l.erase()
			return
		}
		l.draw(now)
		return
	}
	l.active[p.Layer] = p
	if !l.shown || !known || now.Sub(l.drawn) >= l.every {
		l.draw(now)
	}
}

// erase removes the line from the terminal.
func (l *progressLine) erase() {
	if l.shown {
		fmt.Fprint(l.w, "\r\x1b[K")
		l.shown = false
	}
	l.drawn = time.Time{}
}

// draw rewrites the line: "pulling layer 2/5  1.2 MB / 4.5 MB, layer 3/5
// 0.3 MB / 2.1 MB  (3.1 MB/s)", or "exporting from the Docker daemon
// 52.4 MB  (40.2 MB/s)".
func (l *progressLine) draw(now time.Time) {
	layers := make([]int, 0, len(l.active))
	for n := range l.active {
		layers = append(layers, n)
	}
	sort.Ints(layers)
	var parts []string
	for _, n := range layers {
		p := l.active[n]
		size := bytesize.Decimal(p.Read)
		if p.Total > 0 {
			size += " / " + bytesize.Decimal(p.Total)
		}
		if n == 0 {
			parts = append(parts, "exporting from the Docker daemon  "+size)
			continue
		}
		parts = append(parts, "layer "+strconv.Itoa(n)+"/"+strconv.Itoa(p.Layers)+"  "+size)
	}
	line := strings.Join(parts, ", ")
	if layers[0] > 0 {
		line = "pulling " + line
	}
	if secs := now.Sub(l.start).Seconds(); secs >= 0.5 {
		line += "  (" + bytesize.Decimal(int64(float64(l.bytes)/secs)) + "/s)"
	}
	// Writing the last column would wrap the line on some terminals, and
	// "\r" returns only to the start of the last row.
	if max := l.width - 1; len(line) > max {
		line = line[:max-1] + "…"
	}
	fmt.Fprintf(l.w, "\r\x1b[K%s", line)
	l.shown, l.drawn = true, now
}
