// Package mdterm renders Markdown for a terminal: the subset the check
// pages are written in (ATX headings, paragraphs, bullet and numbered
// lists, fenced code blocks, pipe tables, block quotes, rules; code spans,
// strong and emphasis, links, backslash escapes), wrapped to a width.
// Anything else is shown as the text it is.
//
// It is small on purpose: linking a general renderer (glamour v1.0.0)
// raised the peak RSS of every command by about 9 MB (`lambdoctor
// version`: 20.4 MB, 29.1 MB with glamour), and peak RSS is a budget.
package mdterm

import (
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/lambdoctor/lambdoctor/internal/wrap"
)

// Options say how to render.
type Options struct {
	// Width is the terminal's width in columns; under 40 counts as 40.
	Width int
	// Color allows SGR sequences: bold headings and strong text, italic
	// emphasis, coloured code and links. Without it, code spans keep their
	// backticks and nothing else marks the text.
	Color bool
	// Base is the URL relative links are resolved against (the page's
	// own address); empty leaves them as written.
	Base string
}

// Render returns src rendered for a terminal, ending with a newline.
func Render(src []byte, o Options) string {
	if o.Width < 40 {
		o.Width = 40
	}
	r := &renderer{o: o}
	lines := strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
	r.blocks(lines, "", o.Width)
	return strings.TrimRight(r.out.String(), "\n") + "\n"
}

type renderer struct {
	o   Options
	out strings.Builder
	// gap is set after a block: the next one is preceded by a blank line.
	gap bool
}

// The indentation of body text under headings.
const indent = "  "

var (
	headingRE = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	fenceRE   = regexp.MustCompile("^ {0,3}(```+|~~~+)\\s*(\\S*)")
	itemRE    = regexp.MustCompile(`^( {0,3})([-*+]|\d{1,9}[.)])( +|$)`)
	ruleRE    = regexp.MustCompile(`^ {0,3}(-( *-){2,}|\*( *\*){2,}|_( *_){2,}) *$`)
	delimRE   = regexp.MustCompile(`^ *\|? *:?-+:? *(\| *:?-+:? *)*\|? *$`)
)

// blocks renders lines, each output line starting with prefix, in width
// columns (prefix included).
func (r *renderer) blocks(lines []string, prefix string, width int) {
	for i := 0; i < len(lines); {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			i++
		case fenceRE.MatchString(line):
			i = r.code(lines, i, prefix)
		case headingRE.MatchString(line) && prefix == "":
			m := headingRE.FindStringSubmatch(line)
			r.heading(len(m[1]), m[2], width)
			i++
		case ruleRE.MatchString(line):
			r.start()
			r.out.WriteString(prefix + indent + r.style(sgrFaint, strings.Repeat("─", max(width-len(prefix)-len(indent), 1))) + "\n")
			i++
		case strings.HasPrefix(trimmed, "|") && i+1 < len(lines) && delimRE.MatchString(lines[i+1]):
			i = r.table(lines, i, prefix, width)
		case itemRE.MatchString(line):
			i = r.list(lines, i, prefix, width)
		case strings.HasPrefix(trimmed, ">"):
			var quoted []string
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), ">"); i++ {
				q := strings.TrimPrefix(strings.TrimSpace(lines[i]), ">")
				quoted = append(quoted, strings.TrimPrefix(q, " "))
			}
			r.start()
			r.blocks(quoted, prefix+indent+r.style(sgrFaint, "│"), width)
			r.gap = true
		default:
			var para []string
			for ; i < len(lines) && !r.interrupts(lines, i); i++ {
				para = append(para, strings.TrimSpace(lines[i]))
			}
			r.start()
			r.paragraph(strings.Join(para, "\n"), prefix+indent, prefix+indent, width)
			r.gap = true
		}
	}
}

// interrupts reports whether lines[i] ends a paragraph: a blank line or
// the start of another block.
func (r *renderer) interrupts(lines []string, i int) bool {
	l := lines[i]
	t := strings.TrimSpace(l)
	return t == "" || fenceRE.MatchString(l) || headingRE.MatchString(l) || itemRE.MatchString(l) ||
		strings.HasPrefix(t, ">") || ruleRE.MatchString(l) ||
		strings.HasPrefix(t, "|") && i+1 < len(lines) && delimRE.MatchString(lines[i+1])
}

// start separates a block from the one before.
func (r *renderer) start() {
	if r.gap {
		r.out.WriteString("\n")
	}
	r.gap = false
}

// heading writes a heading at the left margin: levels 1 and 2 underlined
// (═, ─), all bold with colour.
func (r *renderer) heading(level int, text string, width int) {
	r.start()
	if r.out.Len() > 0 {
		r.out.WriteString("\n") // two blank lines before a section
	}
	words := r.words(text, sgrBold)
	lines := r.fill(words, width)
	for _, l := range lines {
		r.out.WriteString(l.text + "\n")
	}
	if level <= 2 {
		n := 0
		for _, l := range lines {
			n = max(n, l.width)
		}
		r.out.WriteString(r.style(sgrFaint, strings.Repeat(map[bool]string{true: "═", false: "─"}[level == 1], n)) + "\n")
	}
	r.gap = true
}

// code writes the fenced block starting at lines[i] as it is, indented,
// and returns the index after its closing fence.
func (r *renderer) code(lines []string, i int, prefix string) int {
	fence := fenceRE.FindStringSubmatch(lines[i])[1]
	lead := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
	r.start()
	i++
	for ; i < len(lines); i++ {
		if t := strings.TrimSpace(lines[i]); strings.HasPrefix(t, fence[:3]) && strings.Trim(t, fence[:1]) == "" && len(t) >= len(fence) {
			i++
			break
		}
		l := lines[i]
		// The fence's own indentation is not the code's.
		for k := 0; k < lead && strings.HasPrefix(l, " "); k++ {
			l = l[1:]
		}
		r.out.WriteString(strings.TrimRight(prefix+indent+indent+r.style(sgrCode, strings.ReplaceAll(l, "\t", "    ")), " ") + "\n")
	}
	r.gap = true
	return i
}

// list writes the list starting at lines[i]; it returns the index after it.
func (r *renderer) list(lines []string, i int, prefix string, width int) int {
	r.start()
	first := itemRE.FindStringSubmatch(lines[i])
	ordered := first[2][0] >= '0' && first[2][0] <= '9'
	loose := false
	for i < len(lines) {
		m := itemRE.FindStringSubmatch(lines[i])
		if m == nil || (m[2][0] >= '0' && m[2][0] <= '9') != ordered {
			break
		}
		content := len(m[0])
		if m[3] == "" || len(m[3]) > 4 {
			content = len(m[1]) + len(m[2]) + 1
		}
		item := []string{lines[i][min(content, len(lines[i])):]}
		i++
		// The item's lines: indented ones, and lazy continuations of its
		// paragraph, until a blank line followed by something not
		// indented, or another item of this list.
		for i < len(lines) {
			l := lines[i]
			if strings.TrimSpace(l) == "" {
				if i+1 < len(lines) && indentOf(lines[i+1]) >= content {
					item = append(item, "")
					i++
					continue
				}
				if i+1 < len(lines) && itemRE.MatchString(lines[i+1]) && indentOf(lines[i+1]) == len(m[1]) {
					loose = true
				}
				break
			}
			if indentOf(l) >= content {
				item = append(item, l[content:])
				i++
				continue
			}
			if itemRE.MatchString(l) || r.interrupts(lines, i) {
				break
			}
			item = append(item, strings.TrimSpace(l)) // lazy continuation
			i++
		}
		marker := "•"
		if ordered {
			marker = strings.TrimRight(m[2], ".)") + "."
		}
		r.item(marker, item, prefix, width)
		if loose {
			r.out.WriteString("\n")
		}
		for i < len(lines) && strings.TrimSpace(lines[i]) == "" && i+1 < len(lines) && itemRE.MatchString(lines[i+1]) && indentOf(lines[i+1]) == len(m[1]) {
			i++
		}
	}
	r.gap = true
	return i
}

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// item writes one list item: its marker, then its content (blocks) aligned
// after it.
func (r *renderer) item(marker string, content []string, prefix string, width int) {
	head := prefix + indent + marker + " "
	hang := prefix + indent + strings.Repeat(" ", utf8.RuneCountInString(marker)+1)
	// The first paragraph goes right after the marker; what follows is
	// rendered as blocks under it.
	end := 0
	for end < len(content) && strings.TrimSpace(content[end]) != "" && !(end > 0 && r.interrupts(content, end)) {
		end++
	}
	if end > 0 && !fenceRE.MatchString(content[0]) && !itemRE.MatchString(content[0]) {
		para := make([]string, end)
		for k := range para {
			para[k] = strings.TrimSpace(content[k])
		}
		r.paragraph(strings.Join(para, "\n"), head, hang, width)
		content = content[end:]
	} else {
		r.out.WriteString(strings.TrimRight(head, " ") + "\n")
	}
	if len(content) > 0 {
		// A blank line between the first paragraph and the rest stays.
		sub := &renderer{o: r.o, gap: strings.TrimSpace(content[0]) == ""}
		sub.blocks(content, strings.TrimSuffix(hang, indent), width)
		if s := strings.TrimRight(sub.out.String(), "\n"); s != "" {
			r.out.WriteString(s + "\n")
		}
	}
}

// paragraph writes text filled to width, its first line after first and
// the others after rest (both counted in the width).
func (r *renderer) paragraph(text, first, rest string, width int) {
	room := width - utf8.RuneCountInString(stripSGR(rest))
	lines := r.fill(r.words(text, 0), room)
	for k, l := range lines {
		p := rest
		if k == 0 {
			p = first
		}
		r.out.WriteString(p + l.text + "\n")
	}
}

// line is a filled line: its text (with SGR sequences) and its width.
type line struct {
	text  string
	width int
}

// fill breaks words into lines of room columns.
func (r *renderer) fill(words []word, room int) []line {
	widths := make([]int, len(words))
	for k, w := range words {
		widths[k] = w.width()
	}
	var out []line
	start := 0
	for _, b := range append(wrap.Breaks(widths, room), len(words)) {
		// The line's pieces, a space between words styled as both sides
		// when they agree, so that a styled run is one SGR sequence.
		var runs []piece
		n := 0
		for k := start; k < b; k++ {
			if k > start {
				space := piece{" ", 0}
				if prev, next := runs[len(runs)-1].style, words[k][0].style; prev == next {
					space.style = prev
				}
				runs = append(runs, space)
				n++
			}
			runs = append(runs, words[k]...)
			n += widths[k]
		}
		var sb strings.Builder
		for k := 0; k < len(runs); {
			j := k
			var text strings.Builder
			for ; j < len(runs) && runs[j].style == runs[k].style; j++ {
				text.WriteString(runs[j].text)
			}
			sb.WriteString(r.style(runs[k].style, text.String()))
			k = j
		}
		out = append(out, line{sb.String(), n})
		start = b
	}
	return out
}

// table writes the pipe table starting at lines[i] as aligned columns,
// wrapping cells that do not fit; it returns the index after it.
func (r *renderer) table(lines []string, i int, prefix string, width int) int {
	header := splitRow(lines[i])
	i += 2
	var rows [][]string
	for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
		rows = append(rows, splitRow(lines[i]))
	}
	showHeader := false
	for _, h := range header {
		showHeader = showHeader || strings.TrimSpace(h) != ""
	}
	if showHeader {
		rows = append([][]string{header}, rows...)
	}
	n := len(header)
	cells := make([][][]word, len(rows))
	natural, longest := make([]int, n), make([]int, n)
	for ri, row := range rows {
		cells[ri] = make([][]word, n)
		for c := 0; c < n; c++ {
			text := ""
			if c < len(row) {
				text = row[c]
			}
			style := 0
			if showHeader && ri == 0 {
				style = sgrBold
			}
			ws := r.words(text, style)
			cells[ri][c] = ws
			total := 0
			for k, w := range ws {
				total += w.width()
				if k > 0 {
					total++
				}
				longest[c] = max(longest[c], w.width())
			}
			natural[c] = max(natural[c], total)
		}
	}
	const gap = 2
	widths := append([]int(nil), natural...)
	room := width - utf8.RuneCountInString(stripSGR(prefix)) - len(indent) - gap*(n-1)
	if sum(longest) > room {
		// Columns cannot fit even one word a line: a record a row.
		r.records(header, showHeader, rows, prefix, width)
		return i
	}
	for sum(widths) > room {
		// Narrow the widest column that can still take its longest word.
		c := -1
		for k := range widths {
			if widths[k] > longest[k] && (c < 0 || widths[k] > widths[c]) {
				c = k
			}
		}
		if c < 0 {
			break
		}
		widths[c]--
	}
	wrapped := false
	rendered := make([][][]line, len(rows))
	for ri := range rows {
		rendered[ri] = make([][]line, n)
		for c := 0; c < n; c++ {
			rendered[ri][c] = r.fill(cells[ri][c], widths[c])
			wrapped = wrapped || len(rendered[ri][c]) > 1
		}
	}
	r.start()
	for ri := range rows {
		if wrapped && ri > 0 && !(showHeader && ri == 1) {
			r.out.WriteString("\n")
		}
		height := 1
		for c := 0; c < n; c++ {
			height = max(height, len(rendered[ri][c]))
		}
		for h := 0; h < height; h++ {
			var sb strings.Builder
			sb.WriteString(prefix + indent)
			for c := 0; c < n; c++ {
				l := line{}
				if h < len(rendered[ri][c]) {
					l = rendered[ri][c][h]
				}
				sb.WriteString(l.text)
				if c < n-1 {
					sb.WriteString(strings.Repeat(" ", max(widths[c]-l.width, 0)+gap))
				}
			}
			r.out.WriteString(strings.TrimRight(sb.String(), " ") + "\n")
		}
		if showHeader && ri == 0 {
			var rule []string
			for c := 0; c < n; c++ {
				rule = append(rule, strings.Repeat("─", widths[c]))
			}
			r.out.WriteString(prefix + indent + r.style(sgrFaint, strings.Join(rule, strings.Repeat(" ", gap))) + "\n")
		}
	}
	r.gap = true
	return i
}

// records writes a table too wide for the terminal as one entry a row:
// its first cell as a bullet, the others under it, each after its column's
// header. A row whose first cell is empty continues the entry above.
func (r *renderer) records(header []string, showHeader bool, rows [][]string, prefix string, width int) {
	if showHeader {
		rows = rows[1:]
	}
	r.start()
	for ri, row := range rows {
		cell := func(c int) string {
			if c < len(row) {
				return row[c]
			}
			return ""
		}
		if cell(0) != "" {
			if ri > 0 {
				r.out.WriteString("\n")
			}
			r.paragraph(cell(0), prefix+indent+"• ", prefix+indent+"  ", width)
		}
		for c := 1; c < len(header); c++ {
			if cell(c) == "" {
				continue
			}
			text := cell(c)
			if showHeader && header[c] != "" {
				text = "**" + header[c] + ":** " + text
			}
			r.paragraph(text, prefix+indent+"    ", prefix+indent+"      ", width)
		}
	}
	r.gap = true
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// splitRow splits a table row into its cells at the pipes that are not
// escaped or inside a code span.
func splitRow(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	if strings.HasSuffix(row, "|") && !strings.HasSuffix(row, `\|`) {
		row = row[:len(row)-1]
	}
	var cells []string
	var cur strings.Builder
	ticks := 0 // length of the open code span's backtick run, 0 outside
	for k := 0; k < len(row); k++ {
		ch := row[k]
		switch {
		case ch == '\\' && k+1 < len(row) && row[k+1] == '|':
			// An escaped pipe is a pipe of the cell, in code spans too (GFM).
			cur.WriteByte('|')
			k++
		case ch == '`':
			run := 1
			for k+run < len(row) && row[k+run] == '`' {
				run++
			}
			if ticks == 0 {
				ticks = run
			} else if run == ticks {
				ticks = 0
			}
			cur.WriteString(row[k : k+run])
			k += run - 1
		case ch == '|' && ticks == 0:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// Styles of inline text (bits).
const (
	sgrBold = 1 << iota
	sgrItalic
	sgrCode
	sgrLink
	sgrFaint
)

// piece is a run of text in one style; a word is the pieces between two
// spaces.
type piece struct {
	text  string
	style int
}

type word []piece

func (w word) width() int {
	n := 0
	for _, p := range w {
		n += utf8.RuneCountInString(p.text)
	}
	return n
}

// style wraps s in the SGR sequences of style, when colour is allowed.
func (r *renderer) style(style int, s string) string {
	if !r.o.Color || style == 0 || s == "" {
		return s
	}
	var codes []string
	for _, c := range []struct {
		bit  int
		code string
	}{{sgrBold, "1"}, {sgrFaint, "2"}, {sgrItalic, "3"}, {sgrLink, "4;34"}, {sgrCode, "36"}} {
		if style&c.bit != 0 {
			codes = append(codes, c.code)
		}
	}
	return "\x1b[" + strings.Join(codes, ";") + "m" + s + "\x1b[0m"
}

var sgrRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripSGR(s string) string { return sgrRE.ReplaceAllString(s, "") }

// words parses the inline Markdown of text into words, every piece
// carrying base's styles too.
func (r *renderer) words(text string, base int) []word {
	var words []word
	cur := word{}
	flush := func() {
		if len(cur) > 0 {
			words = append(words, cur)
			cur = word{}
		}
	}
	for _, p := range r.inline(text, base) {
		// A code span's spaces break lines too; its pieces keep their style.
		parts := strings.FieldsFunc(p.text, func(c rune) bool { return c == ' ' || c == '\n' || c == '\t' })
		if len(parts) == 0 {
			if p.text != "" {
				flush()
			}
			continue
		}
		if strings.IndexAny(p.text[:1], " \n\t") == 0 {
			flush()
		}
		for k, part := range parts {
			if k > 0 {
				flush()
			}
			cur = append(cur, piece{part, p.style})
		}
		if strings.ContainsAny(p.text[len(p.text)-1:], " \n\t") {
			flush()
		}
	}
	flush()
	return words
}

// inline parses text into styled pieces: code spans, links, strong,
// emphasis, escapes, autolinks.
func (r *renderer) inline(text string, style int) []piece {
	var out []piece
	var plain strings.Builder
	emit := func(p piece) {
		if plain.Len() > 0 {
			out = append(out, piece{plain.String(), style})
			plain.Reset()
		}
		out = append(out, p)
	}
	for k := 0; k < len(text); {
		ch := text[k]
		switch {
		case ch == '\\' && k+1 < len(text) && strings.IndexByte("\\`*_{}[]()#+-.!|<>~\"'", text[k+1]) >= 0:
			plain.WriteByte(text[k+1])
			k += 2
			continue
		case ch == '`':
			run := 1
			for k+run < len(text) && text[k+run] == '`' {
				run++
			}
			fence := strings.Repeat("`", run)
			if end := closingTicks(text, k+run, run); end >= 0 {
				code := strings.ReplaceAll(text[k+run:end], "\n", " ")
				if len(code) > 1 && code[0] == ' ' && code[len(code)-1] == ' ' && strings.Trim(code, " ") != "" {
					code = code[1 : len(code)-1]
				}
				if !r.o.Color {
					code = fence + code + fence
				}
				emit(piece{code, style | sgrCode})
				k = end + run
				continue
			}
			plain.WriteString(fence)
			k += run
			continue
		case ch == '[':
			if label, dest, n, ok := link(text[k:]); ok {
				for _, p := range r.inline(label, style) {
					emit(p)
				}
				dest = r.resolve(dest)
				if stripSGR(label) != dest {
					plain.WriteString(" (")
					emit(piece{dest, style | sgrLink})
					plain.WriteString(")")
				}
				k += n
				continue
			}
		case ch == '<':
			if end := strings.IndexByte(text[k:], '>'); end > 0 {
				if u := text[k+1 : k+end]; strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
					emit(piece{u, style | sgrLink})
					k += end + 1
					continue
				}
			}
		case ch == '*' && k+1 < len(text) && text[k+1] == '*':
			if end := strings.Index(text[k+2:], "**"); end > 0 && text[k+2] != ' ' && text[k+1+end] != ' ' {
				for _, p := range r.inline(text[k+2:k+2+end], style|sgrBold) {
					emit(p)
				}
				k += end + 4
				continue
			}
		case ch == '*' && k+1 < len(text) && text[k+1] != ' ' && text[k+1] != '*':
			if end := strings.IndexByte(text[k+1:], '*'); end > 0 && text[k+end] != ' ' && (k+2+end >= len(text) || text[k+2+end] != '*') {
				for _, p := range r.inline(text[k+1:k+1+end], style|sgrItalic) {
					emit(p)
				}
				k += end + 2
				continue
			}
		}
		plain.WriteByte(ch)
		k++
	}
	if plain.Len() > 0 {
		out = append(out, piece{plain.String(), style})
	}
	return out
}

// closingTicks returns the index of the backtick run of length n closing a
// code span opened before from, or -1.
func closingTicks(text string, from, n int) int {
	for k := from; k < len(text); {
		if text[k] != '`' {
			k++
			continue
		}
		run := 1
		for k+run < len(text) && text[k+run] == '`' {
			run++
		}
		if run == n {
			return k
		}
		k += run
	}
	return -1
}

// link parses "[label](dest)" at the start of s: the label, the
// destination and the length consumed.
func link(s string) (label, dest string, n int, ok bool) {
	depth, k := 0, 0
	for ; k < len(s); k++ {
		switch s[k] {
		case '\\':
			k++
			continue
		case '`':
			if end := closingTicks(s, k+1, 1); end > 0 {
				k = end
			}
			continue
		case '[':
			depth++
		case ']':
			depth--
		}
		if depth == 0 {
			break
		}
	}
	if k >= len(s) || k+1 >= len(s) || s[k+1] != '(' {
		return "", "", 0, false
	}
	end := strings.IndexByte(s[k+2:], ')')
	if end < 0 {
		return "", "", 0, false
	}
	dest = strings.TrimSpace(s[k+2 : k+2+end])
	if i := strings.IndexAny(dest, " \t"); i > 0 { // a title: [x](url "title")
		dest = dest[:i]
	}
	return s[1:k], strings.Trim(dest, "<>"), k + 3 + end, true
}

// resolve makes a relative link absolute against Options.Base.
func (r *renderer) resolve(dest string) string {
	if r.o.Base == "" || strings.Contains(dest, "://") || strings.HasPrefix(dest, "mailto:") {
		return dest
	}
	base, err := url.Parse(r.o.Base)
	if err != nil {
		return dest
	}
	ref, err := url.Parse(dest)
	if err != nil {
		return dest
	}
	return base.ResolveReference(ref).String()
}
