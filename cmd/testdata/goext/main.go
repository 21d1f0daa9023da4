// Command goext is the Lambda extension the `lambdoctor run` tests build and
// put in /opt/extensions: a real external extension speaking the Extensions
// API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html)
// with the standard library only. Its behaviour is set at build time
// (-ldflags "-X main.mode=..."):
//
//   - "register" (the default) registers for INVOKE and SHUTDOWN, prints
//     each event and loops on event/next; it exits 0 on SHUTDOWN.
//   - "silent" never registers: it sleeps, as an extension stuck in its own
//     init or a program that is not an extension would.
//   - "crash" registers, then exits 3 before asking for an event.
//   - "telemetry" and "logs" register as "register" does, listen on
//     sandbox.localdomain:4243 and subscribe there to platform, function
//     and extension events, with the Telemetry API (HTTP,
//     https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api.html) or
//     the Logs API (TCP, NDJSON,
//     https://docs.aws.amazon.com/lambda/latest/dg/runtimes-logs-api.html);
//     on SHUTDOWN they print every event received, one a line
//     ("NAME: TELEMETRY TYPE DETAIL"), before exiting 0.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// received are the telemetry events received, in order.
var (
	mu       sync.Mutex
	received []string
	batches  int
)

type telemetryEvent struct {
	Time   string          `json:"time"`
	Type   string          `json:"type"`
	Record json.RawMessage `json:"record"`
}

// seen tells whether an event of type typ was received.
func seen(typ string) bool {
	mu.Lock()
	defer mu.Unlock()
	for _, r := range received {
		if strings.HasPrefix(r, typ+" ") {
			return true
		}
	}
	return false
}

func keep(ev telemetryEvent) {
	detail := ""
	var line string
	if json.Unmarshal(ev.Record, &line) == nil {
		detail = line
	} else {
		var rec struct {
			RequestID string `json:"requestId"`
			Status    string `json:"status"`
			Name      string `json:"name"`
			Phase     string `json:"phase"`
		}
		_ = json.Unmarshal(ev.Record, &rec)
		for _, s := range []string{rec.Phase, rec.Name, rec.RequestID, rec.Status} {
			if s != "" {
				detail += " " + s
			}
		}
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", ev.Time); err != nil {
		detail += " (bad time " + ev.Time + ")"
	}
	received = append(received, ev.Type+" "+strings.TrimSpace(detail))
}

// listen serves the telemetry destination on sandbox.localdomain:4243.
func listen(name string) {
	ln, err := net.Listen("tcp", "sandbox.localdomain:4243")
	if err != nil {
		fmt.Fprintln(os.Stderr, name+": listen:", err)
		os.Exit(1)
	}
	if mode == "logs" {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					sc := bufio.NewScanner(c)
					sc.Buffer(make([]byte, 1<<20), 1<<20)
					for sc.Scan() {
						var ev telemetryEvent
						if json.Unmarshal(sc.Bytes(), &ev) != nil {
							continue
						}
						mu.Lock()
						batches++
						keep(ev)
						mu.Unlock()
					}
				}()
			}
		}()
		return
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var evs []telemetryEvent
		if r.Method != "POST" || r.URL.Path != "/telemetry" || json.Unmarshal(b, &evs) != nil {
			fmt.Fprintf(os.Stderr, "%s: bad delivery %s %s: %.200s\n", name, r.Method, r.URL.Path, b)
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		batches++
		for _, ev := range evs {
			keep(ev)
		}
		mu.Unlock()
	}))
}

func subscribe(name, id string) {
	path, body := "/2022-07-01/telemetry", `{"schemaVersion":"2022-12-13","types":["platform","function","extension"],"buffering":{"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/telemetry"}}`
	if mode == "logs" {
		path, body = "/2020-08-15/logs", `{"types":["platform","function","extension"],"buffering":{"timeoutMs":25},"destination":{"protocol":"TCP","port":4243}}`
	}
	req, _ := http.NewRequest("PUT", "http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+path, bytes.NewReader([]byte(body)))
	req.Header.Set("Lambda-Extension-Identifier", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, name+": subscribe:", err)
		os.Exit(1)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("%s: subscribed: %d %s\n", name, resp.StatusCode, bytes.TrimSpace(b))
}

var mode = "register"

func main() {
	name := filepath.Base(os.Args[0])
	if mode == "silent" {
		fmt.Println(name + ": not registering")
		time.Sleep(time.Hour)
		return
	}
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2020-01-01/extension"
	req, _ := http.NewRequest("POST", base+"/register", bytes.NewReader([]byte(`{"events":["INVOKE","SHUTDOWN"]}`)))
	req.Header.Set("Lambda-Extension-Name", name)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, name+": register:", err)
		os.Exit(1)
	}
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Extension-Identifier")
	if resp.StatusCode != http.StatusOK || id == "" {
		fmt.Fprintf(os.Stderr, "%s: register: %s\n", name, resp.Status)
		os.Exit(1)
	}
	fmt.Println(name + ": registered")
	if mode == "telemetry" || mode == "logs" {
		listen(name)
		subscribe(name, id)
	}
	if mode == "crash" {
		fmt.Fprintln(os.Stderr, name+": giving up")
		os.Exit(3)
	}
	for {
		req, _ := http.NewRequest("GET", base+"/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, name+": next:", err)
			os.Exit(1)
		}
		var ev struct {
			EventType      string `json:"eventType"`
			RequestID      string `json:"requestId"`
			ShutdownReason string `json:"shutdownReason"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, name+": event:", err)
			os.Exit(1)
		}
		switch ev.EventType {
		case "INVOKE":
			fmt.Println(name + ": INVOKE " + ev.RequestID)
		case "SHUTDOWN":
			fmt.Println(name + ": SHUTDOWN " + ev.ShutdownReason)
			if mode == "logs" {
				// TCP has no acknowledgement: the last lines may still be
				// on their way to the reader.
				for i := 0; i < 50 && !seen("platform.report"); i++ {
					time.Sleep(10 * time.Millisecond)
				}
			}
			mu.Lock()
			fmt.Printf("%s: %d events in %d batches\n", name, len(received), batches)
			for _, r := range received {
				fmt.Printf("%s: TELEMETRY %s\n", name, r)
			}
			mu.Unlock()
			os.Exit(0)
		}
	}
}
