package history

import "testing"

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in        string
		cmd, text string
		display   string
	}{
		// buildkit
		{"RUN /bin/sh -c gem install aws_lambda_ric # buildkit", "RUN", "/bin/sh -c gem install aws_lambda_ric", "RUN gem install aws_lambda_ric"},
		{"RUN |2 A=1 B=2 /bin/sh -c make   all # buildkit", "RUN", "/bin/sh -c make all", "RUN make all"},
		{"RUN /bin/app --flag # buildkit", "RUN", "/bin/app --flag", "RUN /bin/app --flag"},
		{"COPY app.rb /var/task/ # buildkit", "COPY", "app.rb /var/task/", "COPY app.rb /var/task/"},
		{"ENV PATH=/opt/bin", "ENV", "PATH=/opt/bin", "ENV PATH=/opt/bin"},
		{"WORKDIR /var/task", "WORKDIR", "/var/task", "WORKDIR /var/task"},
		// classic builder
		{"/bin/sh -c useradd -m app", "RUN", "/bin/sh -c useradd -m app", "RUN useradd -m app"},
		{"|1 V=3 /bin/sh -c\tapk add curl", "RUN", "/bin/sh -c apk add curl", "RUN apk add curl"},
		{`/bin/sh -c #(nop)  CMD ["app.handler"]`, "CMD", `["app.handler"]`, `CMD ["app.handler"]`},
		{"/bin/sh -c #(nop) COPY file:0123abcd in /var/task ", "COPY", "file:0123abcd in /var/task", "COPY file:0123abcd in /var/task"},
		{"/bin/sh -c #(nop) ", "", "", ""},
		// no known form
		{"bazel build //:image", "", "bazel build //:image", "bazel build //:image"},
		{"", "", "", ""},
	} {
		h := Parse(tt.in)
		if h.Cmd != tt.cmd || h.Text != tt.text {
			t.Errorf("Parse(%q) = %q %q, want %q %q", tt.in, h.Cmd, h.Text, tt.cmd, tt.text)
		}
		if got := h.String(); got != tt.display {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.display)
		}
	}
}
