package checks

import (
	"context"
	"fmt"
	"sort"

	"github.com/lambdoctor/lambdoctor/analyze"
)

// imageTooLarge is LD104: the image is over Lambda's 10 GB image size limit,
// or close to it.
//
// Which size Lambda counts, and whether "10 GB" means 10^10 bytes or 10 GiB,
// is unconfirmed. So the check errs only when the sum of the uncompressed
// layers exceeds the larger reading (10 GiB), and warns from 90% of the
// smaller one (9 * 10^9 bytes); the merged rootfs size is reported too.
type imageTooLarge struct{}

func (imageTooLarge) Meta() Meta {
	return Meta{
		ID:       "LD104",
		Name:     "image-too-large",
		Title:    "image is over (or near) Lambda's 10 GB image size limit",
		Severity: Error,
		Category: CategoryImage,
	}
}

// Size limits, in bytes.
const (
	lambdaImageLimitGiB = 10 << 30          // 10 GiB: the larger reading of "10 GB"
	lambdaImageLimitGB  = 10_000_000_000    // 10 GB decimal: the smaller reading
	lambdaImageWarnAt   = 9 * 1_000_000_000 // 90% of the smaller reading
)

// imageSizeString formats n as "10.74 GB (10.00 GiB)".
func imageSizeString(n int64) string {
	return fmt.Sprintf("%.2f GB (%.2f GiB, %d bytes)", float64(n)/1e9, float64(n)/(1<<30), n)
}

func (c imageTooLarge) Run(_ context.Context, t *analyze.Target) ([]Finding, error) {
	if t.FS == nil {
		return nil, fmt.Errorf("%w: no filesystem was loaded", ErrSkip)
	}
	s := analyze.SizesOf(t)
	if s.Layers <= lambdaImageWarnAt {
		return nil, nil
	}
	ev := []string{
		"sum of uncompressed layers: " + imageSizeString(s.Layers),
		"merged root filesystem (regular files after whiteouts): " + imageSizeString(s.RootFS),
		"limit: 10 GB (awsdocs images-create.md); read as 10 GiB = 10737418240 bytes for the error and 10^10 bytes for the warning, since the unit and the exact accounting are unconfirmed",
	}
	// The largest layers, where savings are.
	idx := make([]int, len(s.PerLayer))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.PerLayer[idx[a]] > s.PerLayer[idx[b]] })
	for n, i := range idx {
		if n == 5 {
			break
		}
		ev = append(ev, fmt.Sprintf("%s: %s uncompressed", t.LayerLabel(i), imageSizeString(s.PerLayer[i])))
	}
	waste := ""
	if d := s.Layers - s.RootFS; d > s.Layers/10 {
		waste = fmt.Sprintf(" %s of it is files deleted or overwritten by later layers, tar headers and metadata: a multi-stage build that copies only the result would drop that.", imageSizeString(d))
	}
	var f Finding
	switch {
	case s.Layers > lambdaImageLimitGiB:
		f = NewFinding(c.Meta(), fmt.Sprintf("The image's uncompressed layers add up to %s (merged filesystem %s), over Lambda's 10 GB container image limit even read as 10 GiB: CreateFunction/UpdateFunctionCode rejects the image (the exact error text is unconfirmed).%s", imageSizeString(s.Layers), imageSizeString(s.RootFS), waste))
	case s.Layers > lambdaImageLimitGB:
		f = NewFinding(c.Meta(), fmt.Sprintf("The image's uncompressed layers add up to %s (merged filesystem %s): over 10 GB counted in decimal units, under 10 GiB. Whether Lambda's 10 GB limit is decimal or binary, and whether it counts the layers or the merged filesystem, is unconfirmed, so the image may be rejected at CreateFunction/UpdateFunctionCode.%s", imageSizeString(s.Layers), imageSizeString(s.RootFS), waste))
		f.Severity = Warning
	default:
		f = NewFinding(c.Meta(), fmt.Sprintf("The image's uncompressed layers add up to %s (merged filesystem %s), over 90%% of Lambda's 10 GB container image limit; a little more growth and CreateFunction/UpdateFunctionCode will reject it (the exact accounting is unconfirmed). Large images also lengthen cold starts.%s", imageSizeString(s.Layers), imageSizeString(s.RootFS), waste))
		f.Severity = Warning
	}
	if len(idx) > 0 {
		f.Layer = layerRef(t, idx[0])
	}
	f.Evidence = ev
	f.Fix = "use a multi-stage build that copies only the runtime result (COPY --from=build /out /var/task), remove build tools and caches in the same RUN that creates them (RUN pip install --no-cache-dir -r requirements.txt), and keep large models or data in S3 or EFS"
	return []Finding{f}, nil
}
