package checks

import (
	"fmt"
	"sort"
	"strings"
)

// All returns every check lambdoctor ships, sorted by ID. This list is the
// table of contents of the catalogue: a new check is added here, nowhere
// else.
func All() []Check {
	list := []Check{
		// LD1xx: image and platform.
		// LD2xx: entrypoint chain.
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Meta().ID < list[j].Meta().ID })
	return list
}

// Lookup finds a check by ID ("LD101", case-insensitive) or name
// ("platform-mismatch").
func Lookup(idOrName string) (Check, bool) {
	key := strings.TrimSpace(idOrName)
	for _, c := range All() {
		m := c.Meta()
		if strings.EqualFold(m.ID, key) || m.Name == strings.ToLower(key) {
			return c, true
		}
	}
	return nil, false
}

// MustLookup is Lookup for IDs known at compile time, in tests.
func MustLookup(idOrName string) Check {
	c, ok := Lookup(idOrName)
	if !ok {
		panic(fmt.Sprintf("checks: no check %q", idOrName))
	}
	return c
}
