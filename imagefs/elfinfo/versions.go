package elfinfo

import "encoding/binary"

// VerNeed is what an object requires of one library: the versions named
// in its DT_VERNEED entry for that file.
type VerNeed struct {
	File     string
	Versions []string
}

// versionTags are the dynamic section's symbol version entries.
type versionTags struct {
	need, needNum, def, defNum uint64
}

// Bounds of the version tables read (glibc's libc defines about 45
// versions; libstdc++ about 60).
const maxVersionEntries = 4096

// readVersions reads the DT_VERNEED and DT_VERDEF tables (the System V
// ABI's "Symbol Versioning" section: Elf_Verneed/Elf_Vernaux and
// Elf_Verdef/Elf_Verdaux, the same layout in both classes). It reports
// whether they were read whole.
func readVersions(e *Info, src elfSource, bo binary.ByteOrder, vt versionTags, fileOff func(uint64) (uint64, bool), str func(uint64) (string, bool)) bool {
	if vt.need != 0 {
		off, ok := fileOff(vt.need)
		if !ok || vt.needNum > maxVersionEntries {
			return false
		}
		entries := 0
		for range vt.needNum {
			b, ok := src.at(off, 16)
			if !ok {
				return false
			}
			// vn_version, vn_cnt, vn_file, vn_aux, vn_next
			cnt, file, aux, next := uint64(bo.Uint16(b[2:])), uint64(bo.Uint32(b[4:])), uint64(bo.Uint32(b[8:])), uint64(bo.Uint32(b[12:]))
			name, ok := str(file)
			if !ok {
				return false
			}
			vn := VerNeed{File: name}
			a := off + aux
			for range cnt {
				if entries++; entries > maxVersionEntries {
					return false
				}
				ab, ok := src.at(a, 16)
				if !ok {
					return false
				}
				// vna_hash, vna_flags, vna_other, vna_name, vna_next
				flags, vname, vnext := bo.Uint16(ab[4:]), uint64(bo.Uint32(ab[8:])), uint64(bo.Uint32(ab[12:]))
				v, ok := str(vname)
				if !ok {
					return false
				}
				if flags&verFlagWeak == 0 {
					vn.Versions = append(vn.Versions, v)
				}
				if vnext == 0 {
					break
				}
				a += vnext
			}
			e.VerNeed = append(e.VerNeed, vn)
			if next == 0 {
				break
			}
			off += next
		}
	}
	if vt.def != 0 {
		off, ok := fileOff(vt.def)
		if !ok || vt.defNum > maxVersionEntries {
			return false
		}
		for range vt.defNum {
			b, ok := src.at(off, 20)
			if !ok {
				return false
			}
			// vd_version, vd_flags, vd_ndx, vd_cnt, vd_hash, vd_aux, vd_next
			flags, cnt, aux, next := bo.Uint16(b[2:]), bo.Uint16(b[6:]), uint64(bo.Uint32(b[12:])), uint64(bo.Uint32(b[16:]))
			if cnt > 0 && flags&verFlagBase == 0 {
				// The first Verdaux names the version; later ones its
				// parents.
				ab, ok := src.at(off+aux, 8)
				if !ok {
					return false
				}
				v, ok := str(uint64(bo.Uint32(ab)))
				if !ok {
					return false
				}
				e.VerDef = append(e.VerDef, v)
			}
			if next == 0 {
				break
			}
			off += next
		}
	}
	return true
}

// Version flags (System V ABI; debug/elf does not name them).
const (
	verFlagBase = 0x1
	verFlagWeak = 0x2
)
