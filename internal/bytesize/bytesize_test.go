package bytesize

import (
	"math"
	"testing"
)

func TestDecimal(t *testing.T) {
	for _, tt := range []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {1500, "1.5 kB"},
		{12_345_678, "12.3 MB"}, {10_000_000_000, "10.0 GB"},
		{math.MaxInt64, "9.2 EB"},
	} {
		if got := Decimal(tt.in); got != tt.want {
			t.Errorf("Decimal(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBinary(t *testing.T) {
	for _, tt := range []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {274, "274 B"}, {1023, "1023 B"}, {1024, "1 KiB"},
		{1536, "1.5 KiB"}, {4 << 20, "4 MiB"}, {10 << 30, "10 GiB"},
		{3 << 29, "1.5 GiB"}, {1 << 50, "1 PiB"}, {math.MaxInt64, "8 EiB"},
	} {
		if got := Binary(tt.in); got != tt.want {
			t.Errorf("Binary(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
