package reports

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clipeval/clipeval/harness/results"
)

// svgNamespaces are the only URLs report.html may contain: namespace names of the inline SVG, which browsers never
// fetch.
var svgNamespaces = map[string]bool{"http://www.w3.org/2000/svg": true, "http://www.w3.org/1999/xlink": true}

// TestHTMLSelfContained checks report.html's source: no scripts, no resource to load (no src, no CSS url() or
// @import, links only to anchors in the page), one inline SVG per plot, and names from the results escaped.
func TestHTMLSelfContained(t *testing.T) {
	r := fixture()
	r.Runs[2].Model = `<img src=x onerror=alert(1)>`
	dir := t.TempDir()
	_, err := Write(dir, r, nil)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	require.NoError(t, err)
	page := string(b)

	assert.True(t, strings.HasPrefix(page, "<!DOCTYPE html>\n"))
	for _, bad := range []string{"<script", "url(", "@import", "<link", "<img", "<iframe", "<object", "<embed"} {
		assert.False(t, strings.Contains(page, bad), "the page contains %q", bad)
	}
	for _, tag := range regexp.MustCompile(`<[a-zA-Z][^>]*>`).FindAllString(page, -1) {
		assert.NotRegexp(t, `\ssrc=`, tag)
		if m := regexp.MustCompile(`\shref="([^"]*)"`).FindStringSubmatch(tag); m != nil {
			assert.True(t, strings.HasPrefix(m[1], "#"), "link %q leaves the page", m[1])
		}
	}
	for _, u := range regexp.MustCompile(`https?://[^"'\s<>)]+`).FindAllString(page, -1) {
		assert.True(t, svgNamespaces[u], "URL %q in the page", u)
	}
	assert.Equal(t, 6, strings.Count(page, "<svg "), "overview, 2 curves, 2 headline bar charts, 1 confusion matrix")
	assert.Equal(t, 0, strings.Count(page, "<?xml"), "XML declarations of the SVG files are dropped")
	assert.Contains(t, page, "&lt;img src=x onerror=alert(1)&gt;", "model names are escaped in tables and inside the SVG")
}

// chromium returns the headless browser the HTML test drives: Debian's chromium (apt-get install chromium). The
// test is skipped without it, unless CI is set (then it fails: .ci/run installs it).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; CI needs it for the report.html test (Debian: apt-get install chromium)")
	}
	t.Skip("chromium is not installed (Debian: apt-get install chromium); skipping the headless-browser test")
	return ""
}

// browsed is what headless Chromium made of a page.
type browsed struct {
	screenshot image.Image
	// dom is the document as Chromium parsed it (--dump-dom).
	dom string
	// console are the page's console messages (console.log/error, uncaught exceptions) from Chromium's log.
	console []string
	// requests are the non-file URLs the page asked the network stack for (from Chromium's NetLog).
	requests []string
}

// browse opens page (a file) in headless Chromium with a width × height window, network lookups disabled, and
// returns the screenshot, the DOM, the console messages and the page's network requests.
func browse(t *testing.T, bin, page string, width, height int) browsed {
	tmp := t.TempDir()
	shot, netlog := filepath.Join(tmp, "screenshot.png"), filepath.Join(tmp, "netlog.json")
	// The context only stops a hung browser; no assertion depends on time.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(tmp, "profile"),
		"--host-resolver-rules=MAP * ~NOTFOUND", // nothing can reach the network, whatever the page asks
		"--enable-logging=stderr", "--v=0",      // console messages go to stderr as INFO:CONSOLE lines
		"--log-net-log="+netlog,
		"--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height), "--hide-scrollbars",
		"--screenshot="+shot, "--dump-dom", "file://"+page)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "chromium: %s", stderr.String())

	var out browsed
	out.dom = stdout.String()
	f, err := os.Open(shot)
	require.NoError(t, err, "no screenshot: %s", stderr.String())
	defer f.Close()
	out.screenshot, err = png.Decode(f)
	require.NoError(t, err, "the screenshot is not a valid PNG")

	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if _, msg, ok := strings.Cut(sc.Text(), ":CONSOLE"); ok {
			out.console = append(out.console, msg)
		}
	}
	raw, err := os.ReadFile(netlog)
	require.NoError(t, err)
	var log struct {
		Events []struct {
			Params struct {
				URL string `json:"url"`
				// Requests a page makes carry its site (file://) in their isolation key; the browser's own
				// background requests do not.
				IsolationKey string `json:"network_isolation_key"`
			} `json:"params"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(raw, &log), "chromium's NetLog")
	for _, e := range log.Events {
		p := e.Params
		if strings.HasPrefix(p.IsolationKey, "file://") && !strings.HasPrefix(p.URL, "file:") && !contains(out.requests, p.URL) {
			out.requests = append(out.requests, p.URL)
		}
	}
	return out
}

func contains(list []string, s string) bool { return count(list, s) > 0 }

// TestHTMLInChromium renders report.html in headless Chromium and checks: the screenshot is a PNG of the window's
// size in which the plots' colours appear (the inline SVG is drawn), the parsed DOM holds every plot and the
// summary, the page logs nothing to the console and requests nothing from the network. A second page with a
// console error, an uncaught exception and external resources shows that these checks catch such pages.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	_, err := Write(dir, fixture(), nil)
	require.NoError(t, err)
	bad := filepath.Join(t.TempDir(), "bad.html")
	require.NoError(t, os.WriteFile(bad, []byte(`<!DOCTYPE html><html><head><link rel="stylesheet" href="https://fonts.example.com/f.css">`+
		`</head><body><p>bad</p><img src="http://example.com/a.png"><script>console.error("boom"); undefinedFunction();</script></body></html>`), 0o644))

	tests := []struct {
		name          string
		page          string
		width, height int
		colors        []color.RGBA
		dom           []string
		svgs          int
		console       []string // substrings, one per expected console message, in order
		requests      []string
	}{
		{
			name: "report", page: filepath.Join(dir, HTMLFile), width: 1280, height: 4200,
			colors: []color.RGBA{seriesColor(0), seriesColor(1), shade(1), publishedColor},
			dom: []string{
				"<h1>clipeval report</h1>",
				`<p class="alert" role="alert">1 of 4 runs failed (see Failed runs).</p>`,
				`<td>classification</td><td>model-a</td><td>acc1</td><td class="num">66.67</td><td class="num">[41.67, 91.67]</td><td class="num">70.00</td><td class="num">-3.33</td>`,
				`<td>model-a</td><td>zero-shot</td>`,
				`<section id="failed-runs">`,
				"encoding images: onnxruntime: input shape [1 3 224 224] | expected [1 3 256 256]",
				`aria-label="classification: confusion matrix, model-a"`,
			},
			svgs: 6,
		},
		{
			name: "page with errors", page: bad, width: 400, height: 300,
			dom:      []string{"<p>bad</p>"},
			console:  []string{`"boom"`, `"Uncaught ReferenceError: undefinedFunction is not defined"`},
			requests: []string{"https://fonts.example.com/f.css", "http://example.com/a.png"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := browse(t, bin, tc.page, tc.width, tc.height)
			assert.Equal(t, image.Rect(0, 0, tc.width, tc.height), got.screenshot.Bounds(), "screenshot size")
			seen := map[color.RGBA]bool{}
			b := got.screenshot.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					seen[color.RGBAModel.Convert(got.screenshot.At(x, y)).(color.RGBA)] = true
				}
			}
			for _, c := range tc.colors {
				assert.True(t, seen[c], "colour %v on screen", c)
			}
			for _, s := range tc.dom {
				assert.Contains(t, got.dom, s)
			}
			assert.Equal(t, tc.svgs, strings.Count(got.dom, "<svg "), "inline SVG plots in the DOM")
			require.Len(t, got.console, len(tc.console), "console messages: %q", got.console)
			for i, s := range tc.console {
				assert.Contains(t, got.console[i], s)
			}
			assert.Equal(t, tc.requests, got.requests, "network requests of the page")
		})
	}
}

// TestHTMLNoRuns checks the page of a run that evaluated nothing.
func TestHTMLNoRuns(t *testing.T) {
	dir := t.TempDir()
	_, err := Write(dir, &results.Results{Schema: results.SchemaVersion}, nil)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	require.NoError(t, err)
	assert.Contains(t, string(b), `<p class="alert" role="alert">No runs were recorded: this run evaluated nothing.</p>`)
	assert.Contains(t, string(b), "<p>No metrics.</p>")
	assert.NotContains(t, string(b), "<svg")
}
