package wrap

import (
	"slices"
	"testing"
)

func TestBreaks(t *testing.T) {
	tests := []struct {
		widths []int
		room   int
		want   []int
	}{
		{nil, 10, nil},
		{[]int{3, 3, 2}, 10, nil},              // "aaa bbb cc": 10 fits
		{[]int{3, 3, 3}, 10, []int{2}},         // the third does not
		{[]int{30, 2, 2}, 10, []int{1}},        // a long word stands alone, whole
		{[]int{2, 30, 2}, 10, []int{1, 2}},     // on its own line
		{[]int{4, 4, 4, 4, 4}, 9, []int{2, 4}}, // "aaaa aaaa" is 9
		{[]int{1, 1, 1, 1}, 1, []int{1, 2, 3}}, // one a line
	}
	for _, tt := range tests {
		if got := Breaks(tt.widths, tt.room); !slices.Equal(got, tt.want) {
			t.Errorf("Breaks(%v, %d) = %v, want %v", tt.widths, tt.room, got, tt.want)
		}
	}
}

func TestString(t *testing.T) {
	got := String("one two  three https://example.com/a/very/long/path four\n\nfive", 12)
	want := "one two\nthree\nhttps://example.com/a/very/long/path\nfour\n\nfive"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := String("déjà vu été", 7); got != "déjà vu\nété" {
		t.Errorf("runes: got %q", got)
	}
}
