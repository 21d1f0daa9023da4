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
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

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
			os.Exit(0)
		}
	}
}
