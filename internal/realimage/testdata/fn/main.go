// Command fn is the function of the debian-go real-shaped image: a real
// aws-lambda-go function (lambda.Start) on a Debian base. It answers an
// event {"name":"x"} with {"greeting":"hello x","os":"<PRETTY_NAME of
// /etc/os-release>"}, so an invoke shows it ran inside the image.
package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	Name string `json:"name"`
}

type response struct {
	Greeting string `json:"greeting"`
	OS       string `json:"os"`
}

// osName reads PRETTY_NAME from /etc/os-release.
func osName() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func handle(ctx context.Context, ev event) (response, error) {
	if ev.Name == "" {
		return response{}, errors.New("no name in the event")
	}
	return response{Greeting: "hello " + ev.Name, OS: osName()}, nil
}

func main() {
	lambda.Start(handle)
}
