package triage

import (
	"regexp"
	"sync"
)

// patterns is the table of log lines lambdoctor recognises, most specific
// first: a line takes the first pattern that matches it. Symptom texts are
// the lines Lambda and its runtimes print: the error types of the Lambda
// Developer Guide ("Troubleshoot invocation issues in Lambda",
// https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html; "Using the Lambda
// runtime API", https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html),
// the Runtime Interface Emulator's and runtime interface clients' sources
// (github.com/aws/aws-lambda-runtime-interface-emulator,
// github.com/aws/aws-lambda-nodejs-runtime-interface-client and the others),
// and the "What you see" sections of docs/checks; a named group "subject"
// captures the file, library or name the line is about.
//
// The table is built on first use: compiling its expressions costs about
// half a millisecond, which every lambdoctor process would otherwise pay at
// start, whether or not it reads a log.
var patterns = sync.OnceValue(func() []*Pattern {
	return []*Pattern{
		// Local-only artefacts and benign emulator chatter (the Runtime
		// Interface Emulator's own log lines, and a runtime interface client run
		// without it). These go first: several contain "no such file or
		// directory" or "permission denied".
		{
			Key:         "rie-on-host",
			re:          regexp.MustCompile(`aws-lambda-rie(?:-arm64)?: cannot execute binary file`),
			Failure:     "the Runtime Interface Emulator was run on the host",
			Explanation: "aws-lambda-rie is a Linux binary meant to run inside the container (typically this happens on macOS); it is not a Lambda failure.",
			Benign:      true,
		},
		{
			Key:         "rie-not-executable",
			re:          regexp.MustCompile(`aws-lambda-rie(?:-arm64)?: [Pp]ermission denied`),
			Failure:     "the Runtime Interface Emulator binary is not executable",
			Explanation: "a local test setup problem (chmod +x the emulator you mounted); Lambda does not use the emulator.",
			Benign:      true,
		},
		{
			Key:         "rie-concurrent-invoke",
			re:          regexp.MustCompile(`ReserveFailed: AlreadyReserved`),
			Failure:     "the Runtime Interface Emulator got concurrent requests",
			Explanation: "the emulator handles one invoke at a time and panics on concurrent ones; Lambda sends one invoke per environment, so this is local only.",
			Benign:      true,
		},
		{
			Key:         "rie-no-extensions-dir",
			re:          regexp.MustCompile(`extension's directory "?/opt/extensions"? does not exist`),
			Failure:     "no extensions in the image",
			Explanation: "the emulator notes that /opt/extensions is absent and starts without extensions: normal for an image without extensions.",
			Benign:      true,
		},
		{
			Key:         "rie-extensions-disabled-by-layer",
			re:          regexp.MustCompile(`extensionsDisabledByLayer`),
			Failure:     "emulator probing for a disable-extensions marker",
			Explanation: "older emulators stat a marker file under /opt and log its absence; normal.",
			Benign:      true,
		},
		{
			Key:         "rie-cannot-list-agents-absent",
			re:          regexp.MustCompile(`Cannot list external agents.*(?:no such file or directory|does not exist)`),
			Failure:     "no extensions in the image (older emulator wording)",
			Explanation: "older emulators log this warning whenever /opt/extensions is absent; the function starts without extensions. Benign.",
			Benign:      true,
		},
		{
			Key:         "cannot-list-agents",
			re:          regexp.MustCompile(`Cannot list external agents`),
			Failure:     "/opt/extensions exists but cannot be read",
			Explanation: "current emulators log this only when /opt/extensions exists and listing it fails (not when it is absent): check that the directory is readable and searchable by the sandbox user.",
			Checks:      []string{"LD504", "LD501"},
		},
		{
			Key:         "rie-no-credentials",
			re:          regexp.MustCompile(`Starting runtime without AWS_ACCESS_KEY_ID`),
			Failure:     "emulator started without AWS credentials",
			Explanation: "the emulator warns that no credentials were passed to the container; Lambda provides them. Benign unless the function calls AWS locally.",
			Benign:      true,
		},
		{
			Key:         "runtime-api-missing-locally",
			re:          regexp.MustCompile(`expected AWS Lambda environment variables \[AWS_LAMBDA_RUNTIME_API\] are not defined|Missing Runtime API Server configuration|basic_string: construction from null is not valid`),
			Failure:     "the runtime client was started without a Runtime API (no emulator)",
			Explanation: "the runtime interface client needs AWS_LAMBDA_RUNTIME_API, which Lambda and the emulator set; `docker run` without the emulator prints this. Not an image defect: run it under aws-lambda-rie.",
			Benign:      true,
		},

		// Image form, at CreateFunction / UpdateFunctionCode (Lambda's CreateFunction and UpdateFunctionCode errors).
		{
			Key:         "media-type-rejected",
			re:          regexp.MustCompile(`(?i)image manifest(?:, config)? or layer media type.*not supported`),
			Failure:     "Lambda rejected the image's manifest form or media types",
			Explanation: "almost always the tag resolves to an image index: buildx attaches provenance/SBOM attestations by default (or the build was multi-platform), and Lambda accepts only a single image manifest. Build with --provenance=false --sbom=false and one --platform, or deploy the child manifest's digest. Less often a layer or config media type Lambda does not accept.",
			Checks:      []string{"LD101", "LD103"},
		},
		{
			Key:         "cannot-initialize-image",
			re:          regexp.MustCompile(`Lambda cannot initialize the provided container image`),
			Failure:     "Lambda could not prepare the image (CodeArtifactUserFailedException)",
			Explanation: "seen when a SOCI v2 index push turned the tag into an image index; reference the image manifest digest or disable SOCI index generation for Lambda images.",
			Checks:      []string{"LD101"},
		},
		{
			Key:         "unsupported-layer",
			re:          regexp.MustCompile(`UnsupportedImageLayerDetected`),
			Failure:     "Lambda rejected a layer (UnsupportedImageLayerDetected)",
			Explanation: "root cause unconfirmed: seen with images whose config history does not match the layers (rules_oci v2) and with odd layer media types. Rebuild or re-push with a mainstream builder.",
			Checks:      []string{"LD103", "LD105"},
		},
		{
			Key:         "layers-on-image-function",
			re:          regexp.MustCompile(`Lambda layers are not supported for functions created with container images`),
			Failure:     "Lambda layers attached to an image function",
			Explanation: "the deployment (IaC) attaches layers, which image functions cannot have; bake the layer's content into /opt in the image (COPY --from=<layer image> /opt /opt). No check can see this in the image.",
		},

		// Extensions (the Extensions API, https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html): before the generic fork/exec lines.
		{
			Key:         "extension-exec-format",
			re:          regexp.MustCompile(`fork/exec (?P<subject>/opt/extensions/\S+?): exec format error`),
			Failure:     "an extension is built for another architecture",
			Explanation: "an executable in /opt/extensions is not a Linux binary for the function's architecture; use the extension build that matches it.",
			Checks:      []string{"LD504", "LD301"},
		},
		{
			Key:         "extension-permission-denied",
			re:          regexp.MustCompile(`fork/exec (?P<subject>/opt/extensions/\S+?): permission denied`),
			Failure:     "an extension is not executable by the sandbox user",
			Explanation: "every regular file directly in /opt/extensions is launched, and needs read and execute bits for others (COPY --chmod=755).",
			Checks:      []string{"LD504"},
		},
		{
			Key:         "extension-not-found",
			re:          regexp.MustCompile(`fork/exec (?P<subject>/opt/extensions/\S+?): no such file or directory`),
			Failure:     "an extension cannot be started",
			Explanation: "the file exists but its #! interpreter or ELF loader does not, or its #! line ends in CRLF (\\r becomes part of the interpreter's name).",
			Checks:      []string{"LD504", "LD207", "LD208", "LD303"},
		},
		{
			Key:         "too-many-extensions",
			re:          regexp.MustCompile(`TooManyExtensions`),
			Failure:     "more than 10 extensions",
			Explanation: "Lambda launches at most 10 extensions (the regular files directly in /opt/extensions).",
			Checks:      []string{"LD504"},
		},
		{
			Key:         "extension-launch-error",
			re:          regexp.MustCompile(`Extension\.LaunchError|State: LaunchError`),
			Failure:     "an extension failed to launch",
			Explanation: "an executable in /opt/extensions could not be started: not executable, wrong architecture, or a missing interpreter. The fork/exec line next to it names the file.",
			Checks:      []string{"LD504", "LD301"},
		},
		{
			Key:         "extension-crashed",
			re:          regexp.MustCompile(`Extension\.(?:InitError|ExitError|Crash)`),
			Failure:     "an extension started but failed",
			Explanation: "the extension ran and then failed or exited during init; its own log lines say why. Not something a static check can see.",
		},

		// The entrypoint could not be executed (Runtime.InvalidEntrypoint and the IMAGE Launch error line).
		{
			Key:         "exec-format-error",
			re:          regexp.MustCompile(`(?i)(?:(?:fork/)?exec (?P<subject>\S+?): )?exec format error`),
			Failure:     "the entrypoint is not a program for the function's architecture",
			Explanation: "the kernel refused to execute the file: a binary for the other CPU architecture (arm64 built on Apple Silicon deployed to x86_64, or the reverse), a non-Linux binary, or a script without a #! line. Build with --platform linux/amd64 (or arm64) and set the function's Architectures to match.",
			Checks:      []string{"LD102", "LD301", "LD302"},
		},
		{
			Key:         "shebang-crlf",
			re:          regexp.MustCompile(`\^M: bad interpreter|\\r': No such file or directory|\r': No such file or directory`),
			Failure:     "a script's #! line ends in CRLF",
			Explanation: "the script was saved with Windows line endings, so \\r is part of the interpreter's name and no such file exists. Convert to LF (.gitattributes: *.sh text eol=lf).",
			Checks:      []string{"LD208"},
		},
		{
			Key:         "bad-interpreter",
			re:          regexp.MustCompile(`(?P<subject>[^\s:]+): bad interpreter: No such file or directory`),
			Failure:     "a script's #! interpreter does not exist",
			Explanation: "the script names an interpreter the image does not have (e.g. #!/bin/bash on Alpine).",
			Checks:      []string{"LD207"},
		},
		{
			Key:         "env-interpreter-missing",
			re:          regexp.MustCompile(`\benv: '?(?P<subject>[^'\s:]+)'?: No such file or directory`),
			Failure:     "/usr/bin/env cannot find the interpreter",
			Explanation: "a #!/usr/bin/env X script runs where X is not on PATH (exit status 127).",
			Checks:      []string{"LD207"},
		},
		{
			Key:         "exec-not-found",
			re:          regexp.MustCompile(`(?:fork/)?exec (?P<subject>\S+?): no such file or directory`),
			Failure:     "the entrypoint could not be started: no such file or directory",
			Explanation: "either the file does not exist (a wrong path, a dangling symlink), or it exists but what it needs to start does not: its #! interpreter, its ELF loader (PT_INTERP, e.g. a glibc binary on Alpine), or a #! line ending in CRLF.",
			Checks:      []string{"LD202", "LD303", "LD207", "LD208"},
		},
		{
			Key:         "exec-permission-denied",
			re:          regexp.MustCompile(`(?:fork/)?exec (?P<subject>\S+?): permission denied`),
			Failure:     "the sandbox user cannot execute the entrypoint",
			Explanation: "Lambda runs the image as a non-root user (uid 993-ish) that owns nothing: the file needs the execute bit for others, every directory above it the search bit, and it must not be a directory (COPY --chmod=755).",
			Checks:      []string{"LD203", "LD501"},
		},
		{
			Key:         "shell-not-found",
			re:          regexp.MustCompile(`\bsh: (?:\d+: )?(?P<subject>\S+): not found`),
			Failure:     "a shell could not run a program it found",
			Explanation: "a shell says \"not found\" both for a missing file and for a binary whose ELF loader is missing (a glibc binary on Alpine or scratch).",
			Checks:      []string{"LD303", "LD202"},
		},
		{
			Key:         "bootstrap-not-found",
			re:          regexp.MustCompile(`Couldn't find valid bootstrap\(s\): \[(?P<subject>[^\]]*)\]`),
			Failure:     "the command to start was not found",
			Explanation: "argv[0] does not resolve: the image has no ENTRYPOINT/CMD and no bootstrap file, the program is missing or not on PATH, or the handler became the command (an ImageConfig that set Command but not EntryPoint).",
			Checks:      []string{"LD201", "LD202"},
		},

		// Libraries and libc (the dynamic loader's messages, ld.so(8)).
		{
			Key:         "shared-library-missing",
			re:          regexp.MustCompile(`(?P<subject>[^\s:']+\.so[^\s:']*): cannot open shared object file`),
			Failure:     "a shared library is missing",
			Explanation: "a binary or native module needs a library (DT_NEEDED) that is in no directory the dynamic linker searches; install the package that provides it or vendor it into /var/task/lib. A library for the wrong architecture gives the same message.",
			Checks:      []string{"LD304", "LD301"},
		},
		{
			Key:         "glibc-too-old",
			re:          regexp.MustCompile("version [`'\"]?GLIBC_(?P<subject>[0-9.]+)[`'\"]? not found"),
			Failure:     "a binary needs a newer glibc than the image has",
			Explanation: "it was linked against a newer glibc (al2023 has 2.34, al2 2.26); build inside the target base image, or statically.",
			Checks:      []string{"LD304"},
		},

		// The AWS base image's entry script (/lambda-entrypoint.sh in the public.ecr.aws/lambda base images).
		{
			Key:         "handler-arg-count",
			re:          regexp.MustCompile(`entrypoint requires the handler name to be the first argument|exit status 142\b`),
			Failure:     "/lambda-entrypoint.sh did not get exactly one argument",
			Explanation: "the AWS base image's entry script needs the handler as its only argument (exit status 142 otherwise): CMD missing, a CMD with several elements, or a shell-form ENTRYPOINT that drops CMD. Use CMD [\"module.handler\"].",
			Checks:      []string{"LD205", "LD204"},
		},
		{
			Key:         "handler-not-set",
			re:          regexp.MustCompile(`No handler specified|Handler not set`),
			Failure:     "the runtime client started without a handler",
			Explanation: "the handler never arrived: CMD is empty, or a shell-form ENTRYPOINT (ENTRYPOINT cmd args, stored as /bin/sh -c) ignored it.",
			Checks:      []string{"LD204", "LD205", "LD403"},
		},

		// Read-only filesystem (only /tmp is writable on Lambda).
		{
			Key:         "read-only-filesystem",
			re:          regexp.MustCompile(`(?:EROFS|[Rr]ead-only file system)(?:.*?(?:mkdir|open) '(?P<subject>[^']+)')?`),
			Failure:     "something wrote outside /tmp",
			Explanation: "Lambda's filesystem is read-only except /tmp, and HOME (/home/sbx_user1051) does not exist: npx/npm and similar tools write their cache under HOME. Set NPM_CONFIG_CACHE=/tmp/.npm or HOME=/tmp, or start node directly without npx.",
			Checks:      []string{"LD404", "LD502"},
		},
		{
			Key:         "exit-226",
			re:          regexp.MustCompile(`exit status 226\b`),
			Failure:     "npm/npx failed writing to a read-only filesystem",
			Explanation: "exit status 226 is npm's EROFS exit: it tried to create its cache or logs under HOME. Set NPM_CONFIG_CACHE=/tmp/.npm, or avoid npx in the ENTRYPOINT.",
			Checks:      []string{"LD404", "LD502"},
		},
		{
			Key:         "exit-127",
			re:          regexp.MustCompile(`exit status 127\b`),
			Failure:     "a command or library was not found (exit status 127)",
			Explanation: "the shell or dynamic linker could not find something: a shared library (error while loading shared libraries), a #!/usr/bin/env interpreter, or a program a script execs.",
			Checks:      []string{"LD304", "LD207", "LD303"},
		},
		{
			Key:         "exit-126",
			re:          regexp.MustCompile(`exit status 126\b`),
			Failure:     "a command was found but could not be executed (exit status 126)",
			Explanation: "a script exec'd a file without the execute bit, or a binary for another architecture.",
			Checks:      []string{"LD203", "LD301", "LD302"},
		},

		// TLS (certificate verification failures).
		{
			Key:         "ca-bundle-missing",
			re:          regexp.MustCompile(`x509: certificate signed by unknown authority|CERTIFICATE_VERIFY_FAILED|unable to get local issuer certificate|trustAnchors parameter must be non-empty|Could not find a suitable TLS CA certificate bundle`),
			Failure:     "TLS verification failed: no usable CA certificates",
			Explanation: "Lambda provides no CA store; scratch, distroless-static and minimal images ship none. Install ca-certificates or copy the bundle in (COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/).",
			Checks:      []string{"LD601"},
		},

		// Runtime interface client and handler (Runtime.ImportModuleError, Runtime.HandlerNotFound and the like).
		{
			Key:         "python-ric-missing",
			re:          regexp.MustCompile(`No module named '?awslambdaric`),
			Failure:     "python -m awslambdaric cannot import the runtime client",
			Explanation: "awslambdaric is not installed for that interpreter, or not in the working directory it was pip-installed into (-m puts cwd on sys.path): restore WORKDIR or reinstall for the right Python.",
			Checks:      []string{"LD401"},
		},
		{
			Key:         "node-ric-addon-missing",
			re:          regexp.MustCompile(`Cannot find module '\./rapid-client\.node'`),
			Failure:     "the Node.js runtime client's native addon is missing",
			Explanation: "aws-lambda-ric's rapid-client.node was not built (Alpine or a new Node without build tools) or node_modules came from another architecture or libc; build the RIC in the same base as the final stage. No check looks for the addon yet.",
		},
		{
			Key:         "java-ric-jni-missing",
			re:          regexp.MustCompile(`Failed to load the native runtime interface client library`),
			Failure:     "the Java runtime client has no JNI library for this platform",
			Explanation: "the runtime client jar lacks the libaws-lambda-jni build for this architecture or libc (glibc vs musl); use a version that ships it. No check looks inside the jar yet.",
		},
		{
			Key:         "dotnet-icu-missing",
			re:          regexp.MustCompile(`Couldn't find a valid ICU package`),
			Failure:     ".NET cannot find libicu",
			Explanation: "install libicu (icu-libs on Alpine) or set DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1. No check looks for ICU yet.",
		},
		{
			Key:         "import-module-error",
			re:          regexp.MustCompile(`Runtime\.ImportModuleError(?:.*?(?:import module|Cannot find module) '(?P<subject>[^']+)')?`),
			Failure:     "the handler's module could not be imported",
			Explanation: "the module named by the handler is not where the runtime client looks (the working directory or LAMBDA_TASK_ROOT, PYTHONPATH, node_modules), or it imports a native library that is missing.",
			Checks:      []string{"LD402", "LD304"},
		},
		{
			Key:         "handler-not-found",
			re:          regexp.MustCompile(`Runtime\.HandlerNotFound|is undefined or not exported|Class not found: `),
			Failure:     "the handler function was not found",
			Explanation: "the module loaded but has no function (or class) of the name the handler string gives.",
			Checks:      []string{"LD402", "LD403"},
		},
		{
			Key:         "handler-malformed",
			re:          regexp.MustCompile(`Runtime\.MalformedHandlerName|Runtime\.BuiltInModuleConflict|Bad handler|is not a valid handler name|Invalid handler`),
			Failure:     "the handler string is malformed",
			Explanation: "the runtime client rejects the handler's form: Python wants module.function, Node.js file.export without '..', Ruby file.method or file.Module::Class.method.",
			Checks:      []string{"LD403"},
		},
		{
			Key:         "ruby-load-error",
			re:          regexp.MustCompile(`cannot load such file -- (?P<subject>\S+)`),
			Failure:     "Ruby could not load a file",
			Explanation: "the handler's file is not in the working directory (the Ruby client's app root), or a gem it requires is not installed where the runtime looks (GEM_HOME).",
			Checks:      []string{"LD402"},
		},
		{
			Key:         "gem-not-found",
			re:          regexp.MustCompile(`Bundler::GemNotFound`),
			Failure:     "Bundler cannot find the gems",
			Explanation: "bundle exec (or the RIC's bundler/setup) found a Gemfile but the gems are installed elsewhere: install them where the runtime looks (ENV GEM_HOME=${LAMBDA_TASK_ROOT} on AWS base images). No check compares the lockfile with the installed gems yet.",
		},
		{
			Key:         "user-code-syntax-error",
			re:          regexp.MustCompile(`Runtime\.UserCodeSyntaxError`),
			Failure:     "the handler's module has a syntax error",
			Explanation: "a bug in the function's code; lambdoctor does not parse code.",
		},
		{
			Key:         "invalid-working-dir",
			re:          regexp.MustCompile(`Runtime\.InvalidWorkingDir|the working directory .* is invalid|the working directory doesn't exist`),
			Failure:     "the working directory is unusable",
			Explanation: "WORKDIR (or the function's WorkingDirectory) is empty, relative, missing from the image, or not searchable; Docker creates a missing working directory, Lambda does not.",
			Checks:      []string{"LD206"},
		},

		// Init and runtime outcomes (Runtime.ExitError, timeouts, Runtime.OutOfMemory): mostly not static.
		{
			Key:         "init-timeout",
			re:          regexp.MustCompile(`INIT_REPORT.*Status: timeout|Task timed out|Sandbox\.Timedout`),
			Failure:     "init or the invoke timed out",
			Explanation: "a process that never polls the Runtime API (a web server without the Lambda Web Adapter, no runtime interface client) keeps running until the timeout; so does an init over 10 s (heavy imports, model loading).",
			Checks:      []string{"LD401"},
		},
		{
			Key:         "out-of-memory",
			re:          regexp.MustCompile(`Runtime\.OutOfMemory|signal: killed`),
			Failure:     "the function ran out of memory",
			Explanation: "the process hit the function's memory size; raise it or use less. Not visible in the image.",
		},
		{
			Key:         "illegal-instruction",
			re:          regexp.MustCompile(`signal: illegal instruction`),
			Failure:     "a binary uses CPU features the Lambda host lacks",
			Explanation: "code built with -march=native or for AVX-512 crashes on Lambda's CPUs; build for a baseline ISA. Not decidable statically.",
		},
		{
			Key:         "exit-254-node",
			re:          regexp.MustCompile(`exit status 254\b`),
			Failure:     "the Node.js runtime client does not support this Node version",
			Explanation: "seen with Node 16.14.3+ and an old aws-lambda-ric; upgrade the runtime client.",
		},
		{
			Key:         "exited-without-reason",
			re:          regexp.MustCompile(`Runtime exited without providing a reason`),
			Failure:     "the process exited before asking for an event",
			Explanation: "nothing in the image talks to the Runtime API: the program ran and exited (a script, a CLI), or the runtime client is missing.",
			Checks:      []string{"LD401"},
		},

		// Permissions on files the function reads (Lambda runs the function as a user that owns none of them).
		{
			Key:         "permission-denied",
			re:          regexp.MustCompile(`(?i)(?:EACCES: )?permission denied(?:.*?'(?P<subject>/[^']+)')?|EACCES|PermissionDenied`),
			Failure:     "the sandbox user cannot read or execute a file",
			Explanation: "Lambda runs the image as a non-root user that owns nothing, so only the \"other\" permission bits count: files need o+r (programs o+rx), directories o+rx. USER in the Dockerfile is ignored. chmod -R o+rX, or COPY --chmod.",
			Checks:      []string{"LD501", "LD203"},
		},

		// Generic forms, last: their specific causes are matched above.
		{
			Key:         "launch-error",
			re:          regexp.MustCompile(`(?:IMAGE|SUPERNOVA)\s+Launch error`),
			Failure:     "Lambda could not start the image's command",
			Explanation: "the error after \"Launch error:\" says why; Entrypoint, Cmd and WorkingDir on the same line are what Lambda tried to run.",
			Checks:      []string{"LD201", "LD202", "LD203", "LD206"},
		},
		{
			Key:         "invalid-entrypoint",
			re:          regexp.MustCompile(`Runtime\.InvalidEntrypoint`),
			Failure:     "Lambda could not start the entrypoint",
			Explanation: "argv[0] did not resolve or could not be executed: missing, not executable by the sandbox user, the wrong architecture, or a missing interpreter or loader. The errorMessage (or the IMAGE Launch error line) says which.",
			Checks:      []string{"LD201", "LD202", "LD203", "LD204", "LD207", "LD301", "LD303"},
		},
		{
			Key:         "runtime-exit-error",
			re:          regexp.MustCompile(`Runtime\.ExitError|Runtime exited with error`),
			Failure:     "the runtime process exited during init",
			Explanation: "the process started and then exited; the lines before it (and the exit status) say why. Common image causes: no runtime interface client, a missing library or interpreter.",
			Checks:      []string{"LD401", "LD304", "LD207"},
		},
	}
})
