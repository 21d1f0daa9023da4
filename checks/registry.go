package checks

import (
	"fmt"
	"strings"
)

// All returns every check lambdoctor ships, in ID order. This list is the
// table of contents of the catalogue: a new check is added here, in its ID's
// place (TestCatalogue fails otherwise), nowhere else.
func All() []Check {
	return []Check{
		// LD1xx: image form and platform.
		imageIsIndex{},         // LD101
		platformMismatch{},     // LD102
		unsupportedMediaType{}, // LD103
		imageTooLarge{},        // LD104
		layerAnomaly{},         // LD105
		// LD2xx: entrypoint chain.
		noEntrypoint{},              // LD201
		entrypointNotFound{},        // LD202
		entrypointNotExecutable{},   // LD203
		shellFormEntrypoint{},       // LD204
		handlerArgCount{},           // LD205
		workdirInvalid{},            // LD206
		shebangInterpreterMissing{}, // LD207
		shebangCRLF{},               // LD208
		scriptCommandNotFound{},     // LD209
		busyboxAppletMissing{},      // LD210
		interactiveCmd{},            // LD211
		scriptWritesReadOnly{},      // LD212
		dashBashism{},               // LD213
		// LD3xx: the ELF files the function runs and loads.
		elfArchMismatch{},       // LD301
		notLinuxExecutable{},    // LD302
		elfInterpreterMissing{}, // LD303
		elfLibraryMissing{},     // LD304
		symbolVersionMissing{},  // LD305
		glibcModuleOnMusl{},     // LD306
		// LD4xx: the runtime interface client and the handler.
		noRuntimeInterfaceClient{}, // LD401
		handlerNotFound{},          // LD402
		handlerMalformed{},         // LD403
		npxAtRuntime{},             // LD404
		clientNativeMissing{},      // LD405
		handlerESMRequired{},       // LD406
		javaHandlerClassMissing{},  // LD407
		// LD5xx: users, permissions, /tmp and extensions.
		unreadableByLambdaUser{}, // LD501
		writesOutsideTmp{},       // LD502
		tmpUnusable{},            // LD503
		extensionInvalid{},       // LD504
		// LD6xx: TLS roots and the environment.
		caBundleMissing{},     // LD601
		reservedEnvOverride{}, // LD602
		ignoredInstruction{},  // LD603
	}
}

// Categories. The hundreds digit of a check's ID names its category (see
// CategoryOf); IDs are never reused, so a new category takes the next digit.
const (
	// CategoryImage: the manifest form and platform (LD1xx).
	CategoryImage Category = "image"
	// CategoryEntrypoint: ENTRYPOINT, CMD and WORKDIR, and the files they
	// name (LD2xx).
	CategoryEntrypoint Category = "entrypoint"
	// CategoryBinary: the ELF files the function runs and loads (LD3xx).
	CategoryBinary Category = "binary"
	// CategoryRuntime: the runtime interface client and the handler it
	// loads (LD4xx).
	CategoryRuntime Category = "runtime"
	// CategoryFilesystem: users, permissions, /tmp and extensions (LD5xx).
	CategoryFilesystem Category = "filesystem"
	// CategoryEnvironment: TLS roots and the environment (LD6xx).
	CategoryEnvironment Category = "environment"
)

// CategoryOf returns the category an ID's hundreds digit names, or "" for
// an ID that is not "LD" + three digits or whose digit has no category.
func CategoryOf(id string) Category {
	if len(id) != 5 || !strings.HasPrefix(id, "LD") {
		return ""
	}
	switch id[2] {
	case '1':
		return CategoryImage
	case '2':
		return CategoryEntrypoint
	case '3':
		return CategoryBinary
	case '4':
		return CategoryRuntime
	case '5':
		return CategoryFilesystem
	case '6':
		return CategoryEnvironment
	}
	return ""
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
