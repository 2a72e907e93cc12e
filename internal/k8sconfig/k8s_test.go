package k8sconfig

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// dir is configs/k8s, relative to this package.
const dir = "../../configs/k8s"

// Manifest file names.
const (
	pvcFile    = "pvc.yaml"
	shardsFile = "shards-job.yaml"
	mergeFile  = "merge-job.yaml"
)

// decodeStrict decodes one YAML document into v the way the API server's strict field validation does: a duplicate
// key, an unknown field, a field spelled in another case (encoding/json would accept `mountpath` for mountPath;
// sigs.k8s.io/json, which the API server uses, does not) or a value of the wrong type is an error.
func decodeStrict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc) // duplicate keys fail here
	if err != nil {
		return fmt.Errorf("YAML: %w", err)
	}
	strict, err := sigsjson.UnmarshalStrict(j, v) // err: syntax or type; strict: unknown, duplicate, miscased fields
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// documentSeparator is a line `---` between YAML documents.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// documents splits a file into its YAML documents, leaving out those that hold nothing but comments.
func documents(data []byte) ([][]byte, error) {
	var docs [][]byte
	for _, d := range documentSeparator.Split(string(data), -1) {
		j, err := yaml.YAMLToJSON([]byte(d))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(docs)+1, err)
		}
		if string(bytes.TrimSpace(j)) != "null" {
			docs = append(docs, []byte(d))
		}
	}
	return docs, nil
}

// decodeObject decodes one document strictly into the API type its apiVersion and kind name.
func decodeObject(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, fmt.Errorf("reading apiVersion and kind: %w", err)
	}
	var obj any
	switch gvk := tm.APIVersion + " " + tm.Kind; gvk {
	case "batch/v1 Job":
		obj = &batchv1.Job{}
	case "v1 PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	default:
		return nil, fmt.Errorf("apiVersion %q kind %q: this test knows only batch/v1 Job and v1 PersistentVolumeClaim "+
			"(fix the apiVersion/kind, or teach decodeObject the new type)", tm.APIVersion, tm.Kind)
	}
	if err := decodeStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s %s: %w (fix the field's name, case or type; see `kubectl explain`)", tm.APIVersion, tm.Kind, err)
	}
	return obj, nil
}

// loadAll decodes every document of every configs/k8s/*.yaml, by file name.
func loadAll(t *testing.T) map[string][]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", dir)
	}
	all := map[string][]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		docs, err := documents(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, doc := range docs {
			obj, err := decodeObject(doc)
			if err != nil {
				t.Fatalf("%s, document %d: %v", name, i+1, err)
			}
			all[name] = append(all[name], obj)
		}
	}
	return all
}

// manifests are the three objects of configs/k8s.
type manifests struct {
	shards, merge *batchv1.Job
	pvc           *corev1.PersistentVolumeClaim
}

// load decodes configs/k8s and picks out its three objects, failing unless each file holds exactly its one object.
func load(t *testing.T) manifests {
	t.Helper()
	all := loadAll(t)
	one := func(file string) any {
		t.Helper()
		if len(all[file]) != 1 {
			t.Fatalf("%s holds %d objects, want exactly 1", file, len(all[file]))
		}
		return all[file][0]
	}
	var m manifests
	var ok bool
	if m.shards, ok = one(shardsFile).(*batchv1.Job); !ok {
		t.Fatalf("%s: want a batch/v1 Job", shardsFile)
	}
	if m.merge, ok = one(mergeFile).(*batchv1.Job); !ok {
		t.Fatalf("%s: want a batch/v1 Job", mergeFile)
	}
	if m.pvc, ok = one(pvcFile).(*corev1.PersistentVolumeClaim); !ok {
		t.Fatalf("%s: want a v1 PersistentVolumeClaim", pvcFile)
	}
	return m
}

func TestManifestKinds(t *testing.T) {
	all := loadAll(t)
	want := map[string]struct{ apiVersion, kind, name string }{
		pvcFile:    {"v1", "PersistentVolumeClaim", "clipeval-data"},
		shardsFile: {"batch/v1", "Job", "clipeval-shards"},
		mergeFile:  {"batch/v1", "Job", "clipeval-merge"},
	}
	for file := range all {
		if _, ok := want[file]; !ok {
			t.Errorf("%s/%s is not checked by this test: add it to the table in TestManifestKinds", dir, file)
		}
	}
	for file, w := range want {
		t.Run(file, func(t *testing.T) {
			objs, ok := all[file]
			if !ok {
				t.Fatalf("%s/%s is missing", dir, file)
			}
			if len(objs) != 1 {
				t.Fatalf("%s holds %d objects, want exactly 1", file, len(objs))
			}
			var tm metav1.TypeMeta
			var om metav1.ObjectMeta
			switch o := objs[0].(type) {
			case *batchv1.Job:
				tm, om = o.TypeMeta, o.ObjectMeta
			case *corev1.PersistentVolumeClaim:
				tm, om = o.TypeMeta, o.ObjectMeta
			}
			if tm.APIVersion != w.apiVersion || tm.Kind != w.kind {
				t.Errorf("%s is apiVersion %q kind %q; want apiVersion: %s, kind: %s", file, tm.APIVersion, tm.Kind, w.apiVersion, w.kind)
			}
			// The README's kubectl commands (kubectl wait job/clipeval-shards) and the claimName use these names.
			if om.Name != w.name {
				t.Errorf("%s: metadata.name is %q; want %q (configs/k8s/README.md and the other manifests use it)", file, om.Name, w.name)
			}
		})
	}
}

// flagValue is the value of the flag name (`--name V` or `--name=V`) in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// under reports whether the POSIX path p lies inside the folder dir.
func under(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// container is the Job's one container, which must be named clipeval (podFailurePolicy rules name it).
func container(t *testing.T, file string, job *batchv1.Job) corev1.Container {
	t.Helper()
	cs := job.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("%s: spec.template.spec.containers has %d containers; want exactly one, named clipeval", file, len(cs))
	}
	if cs[0].Name != "clipeval" {
		t.Errorf("%s: the container is named %q; name it clipeval (podFailurePolicy's containerName refers to it)", file, cs[0].Name)
	}
	if cs[0].Image == "" {
		t.Errorf("%s: the container has no image; set image: to your clipeval image", file)
	}
	return cs[0]
}

// dataMount is the Job's volume backed by a PersistentVolumeClaim: its claimName and where the container mounts it.
func dataMount(t *testing.T, file string, job *batchv1.Job, c corev1.Container) (claim, mountPath string) {
	t.Helper()
	var name string
	for _, v := range job.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			if name != "" {
				t.Fatalf("%s: more than one persistentVolumeClaim volume (%s, %s); keep the one shared volume", file, name, v.Name)
			}
			name, claim = v.Name, v.PersistentVolumeClaim.ClaimName
		}
	}
	if name == "" {
		t.Fatalf("%s: no volume from a persistentVolumeClaim; add volumes: [{name: data, persistentVolumeClaim: {claimName: clipeval-data}}]", file)
	}
	for _, vm := range c.VolumeMounts {
		if vm.Name == name {
			if vm.ReadOnly {
				t.Errorf("%s: volumeMount %q is readOnly; clipeval writes its outputs there, drop readOnly", file, name)
			}
			return claim, vm.MountPath
		}
	}
	t.Fatalf("%s: the container does not mount volume %q; add volumeMounts: [{name: %s, mountPath: /data}]", file, name, name)
	return "", ""
}

// checkVolumes fails when a volumeMount names a volume the pod does not have (the API server rejects that).
func checkVolumes(t *testing.T, file string, job *batchv1.Job, c corev1.Container) {
	t.Helper()
	var names []string
	for _, v := range job.Spec.Template.Spec.Volumes {
		names = append(names, v.Name)
	}
	for _, vm := range c.VolumeMounts {
		if !slices.Contains(names, vm.Name) {
			t.Errorf("%s: volumeMount %q names no volume of the pod (volumes: %v); fix the name or add the volume", file, vm.Name, names)
		}
	}
}

// checkFailurePolicy checks what the API server requires of a podFailurePolicy: restartPolicy Never, rules naming
// the Job's containers, FailIndex only with backoffLimitPerIndex.
func checkFailurePolicy(t *testing.T, file string, job *batchv1.Job) {
	t.Helper()
	pfp := job.Spec.PodFailurePolicy
	if pfp == nil {
		return
	}
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: podFailurePolicy needs restartPolicy: Never (it is %q)", file, job.Spec.Template.Spec.RestartPolicy)
	}
	for i, r := range pfp.Rules {
		if r.OnExitCodes != nil && r.OnExitCodes.ContainerName != nil {
			found := false
			for _, c := range job.Spec.Template.Spec.Containers {
				found = found || c.Name == *r.OnExitCodes.ContainerName
			}
			if !found {
				t.Errorf("%s: podFailurePolicy.rules[%d].onExitCodes.containerName %q is no container of the Job; fix the name", file, i, *r.OnExitCodes.ContainerName)
			}
		}
		if r.Action == batchv1.PodFailurePolicyActionFailIndex && job.Spec.BackoffLimitPerIndex == nil {
			t.Errorf("%s: podFailurePolicy.rules[%d] is FailIndex, which needs backoffLimitPerIndex", file, i)
		}
	}
}

// env is the value of the container's environment variable name ("" when unset).
func env(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func TestShardsJob(t *testing.T) {
	m := load(t)
	job, spec := m.shards, m.shards.Spec
	f := shardsFile
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("%s: spec.completionMode must be Indexed, so each pod gets its JOB_COMPLETION_INDEX (--shard auto/N reads it)", f)
	}
	if spec.Completions == nil {
		t.Fatalf("%s: spec.completions is unset; set it to N, the number of shards", f)
	}
	n := *spec.Completions
	if n < 1 {
		t.Fatalf("%s: spec.completions is %d; set it to N ≥ 1, the number of shards", f, n)
	}
	if spec.Parallelism == nil || *spec.Parallelism != n {
		t.Errorf("%s: spec.parallelism is %v; set it to %d, equal to completions, so that every shard runs at once", f, ptrString(spec.Parallelism), n)
	}
	if spec.BackoffLimitPerIndex == nil {
		t.Errorf("%s: spec.backoffLimitPerIndex is unset; set it (e.g. 2) so that a failed shard is retried on its own", f)
	}
	if spec.MaxFailedIndexes == nil {
		t.Errorf("%s: spec.maxFailedIndexes is unset; set it (e.g. 1) beside backoffLimitPerIndex", f)
	} else if *spec.MaxFailedIndexes < 0 || *spec.MaxFailedIndexes > n {
		t.Errorf("%s: spec.maxFailedIndexes is %d; it must lie in 0..completions (%d)", f, *spec.MaxFailedIndexes, n)
	}
	if rp := spec.Template.Spec.RestartPolicy; rp != corev1.RestartPolicyNever {
		t.Errorf("%s: spec.template.spec.restartPolicy is %q; set it to Never (backoffLimitPerIndex requires it: the Job, not the kubelet, retries a shard)", f, rp)
	}
	checkFailurePolicy(t, f, job)

	c := container(t, f, job)
	checkVolumes(t, f, job, c)
	args := c.Args
	if len(c.Command) != 0 {
		t.Errorf("%s: the container sets command %q; leave it out so the image's entrypoint (clipeval) runs with args", f, c.Command)
	}
	if len(args) < 2 || args[0] != "run" || strings.HasPrefix(args[1], "-") {
		t.Fatalf("%s: args %q; want [run CONFIG --shard auto/N --out DIR ...]", f, args)
	}
	shard, ok := flagValue(args, "--shard")
	if !ok {
		t.Errorf("%s: args lack --shard auto/N; add \"--shard\", \"auto/%d\"", f, n)
	} else if want := "auto/" + strconv.Itoa(int(n)); shard != want {
		t.Errorf("%s: args have --shard %q but completions is %d; they must agree: make it %q (or change completions)", f, shard, n, want)
	}
	out, ok := flagValue(args, "--out")
	if !ok {
		t.Errorf("%s: args lack --out DIR; add \"--out\", \"/data/runs/NAME\" (the folder merge-job.yaml merges)", f)
	}
	if v := env(c, "CLIPEVAL_ORT_LIB"); v == "" {
		t.Errorf("%s: the container does not set CLIPEVAL_ORT_LIB; point it at the ONNX Runtime library inside the image", f)
	}
	if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
		t.Errorf("%s: no cpu request; set resources.requests.cpu so the scheduler spreads the shards", f)
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Errorf("%s: no memory limit; set resources.limits.memory", f)
	}

	_, mount := dataMount(t, f, job, c)
	if !under(args[1], mount) {
		t.Errorf("%s: the config %q is not on the shared volume mounted at %s; put it under %s/", f, args[1], mount, mount)
	}
	if ok && !under(out, mount) {
		t.Errorf("%s: --out %q is not on the shared volume mounted at %s; the shards would be lost with the pod: put it under %s/", f, out, mount, mount)
	}
	if cache, ok := flagValue(args, "--cache-dir"); ok && !under(cache, mount) {
		t.Errorf("%s: --cache-dir %q is not on the shared volume mounted at %s; a retried shard would encode everything again: put it under %s/", f, cache, mount, mount)
	}
}

func TestMergeJob(t *testing.T) {
	m := load(t)
	job, spec := m.merge, m.merge.Spec
	f := mergeFile
	if spec.CompletionMode != nil && *spec.CompletionMode != batchv1.NonIndexedCompletion {
		t.Errorf("%s: spec.completionMode is %s; the merge runs once: leave completionMode out (NonIndexed)", f, *spec.CompletionMode)
	}
	if spec.Completions != nil && *spec.Completions != 1 {
		t.Errorf("%s: spec.completions is %d; set it to 1, the merge runs once", f, *spec.Completions)
	}
	if spec.Parallelism != nil && *spec.Parallelism != 1 {
		t.Errorf("%s: spec.parallelism is %d; set it to 1, two merges would write the same files", f, *spec.Parallelism)
	}
	if spec.BackoffLimit == nil {
		t.Errorf("%s: spec.backoffLimit is unset; set it (e.g. 2)", f)
	}
	checkFailurePolicy(t, f, job)

	c := container(t, f, job)
	checkVolumes(t, f, job, c)
	if len(c.Args) < 2 || c.Args[0] != "merge" || strings.HasPrefix(c.Args[1], "-") {
		t.Fatalf("%s: args %q; want [merge DIR ...]", f, c.Args)
	}
	_, mount := dataMount(t, f, job, c)
	if !under(c.Args[1], mount) {
		t.Errorf("%s: merge DIR %q is not on the shared volume mounted at %s", f, c.Args[1], mount)
	}
	if out, ok := flagValue(c.Args, "--out"); ok && !under(out, mount) {
		t.Errorf("%s: --out %q is not on the shared volume mounted at %s; the results would be lost with the pod", f, out, mount)
	}
}

// TestManifestsAgree checks what ties the files together: the merge Job merges the folder the shards write, both
// mount the one claim pvc.yaml defines at the same place, and they run the same image and plugins.
func TestManifestsAgree(t *testing.T) {
	m := load(t)
	sc, mc := container(t, shardsFile, m.shards), container(t, mergeFile, m.merge)
	if len(sc.Args) < 2 || len(mc.Args) < 2 {
		t.Fatalf("args too short: %s %q, %s %q (TestShardsJob and TestMergeJob say more)", shardsFile, sc.Args, mergeFile, mc.Args)
	}
	out, _ := flagValue(sc.Args, "--out")
	if path.Clean(out) != path.Clean(mc.Args[1]) {
		t.Errorf("%s merges %q but %s writes --out %q; make them the same folder", mergeFile, mc.Args[1], shardsFile, out)
	}

	sClaim, sMount := dataMount(t, shardsFile, m.shards, sc)
	mClaim, mMount := dataMount(t, mergeFile, m.merge, mc)
	if sClaim != mClaim {
		t.Errorf("the Jobs mount different claims (%s: %q, %s: %q); both must mount the one shared volume", shardsFile, sClaim, mergeFile, mClaim)
	}
	if sMount != mMount {
		t.Errorf("the Jobs mount the volume at different paths (%s: %q, %s: %q); use the same mountPath, the paths in args depend on it", shardsFile, sMount, mergeFile, mMount)
	}
	if sClaim != m.pvc.Name {
		t.Errorf("%s mounts claimName %q but %s defines %q; make them the same", shardsFile, sClaim, pvcFile, m.pvc.Name)
	}
	if mClaim != m.pvc.Name {
		t.Errorf("%s mounts claimName %q but %s defines %q; make them the same", mergeFile, mClaim, pvcFile, m.pvc.Name)
	}

	if !slices.Contains(m.pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("%s: accessModes %v; it must include ReadWriteMany, the shard pods on several nodes write to it at once", pvcFile, m.pvc.Spec.AccessModes)
	}
	if q, ok := m.pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.IsZero() {
		t.Errorf("%s: no spec.resources.requests.storage; set it (e.g. 200Gi)", pvcFile)
	}

	if sc.Image != mc.Image {
		t.Errorf("the Jobs run different images (%s: %q, %s: %q); merge with the build that made the shards", shardsFile, sc.Image, mergeFile, mc.Image)
	}
	sp, _ := flagValue(sc.Args, "--plugin-dir")
	mp, _ := flagValue(mc.Args, "--plugin-dir")
	if sp == "" || sp != mp {
		t.Errorf("--plugin-dir differs or is missing (%s: %q, %s: %q); pass the image's plugin folder to both", shardsFile, sp, mergeFile, mp)
	}
	if s, mg := env(sc, "CLIPEVAL_ORT_LIB"), env(mc, "CLIPEVAL_ORT_LIB"); s != mg {
		t.Errorf("CLIPEVAL_ORT_LIB differs (%s: %q, %s: %q); point both at the image's ONNX Runtime", shardsFile, s, mergeFile, mg)
	}
}

// TestStrictDecodeRejects shows the check can fail: copies of the shards Job with one mistake each must not decode.
func TestStrictDecodeRejects(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(dir, shardsFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeObject(good); err != nil {
		t.Fatalf("%s itself does not decode: %v", shardsFile, err)
	}
	for _, tc := range []struct {
		name     string
		from, to string // a regexp on the file and its replacement
		errorHas string // what the error must mention
	}{
		{"misspelled field", `(?m)^(\s*)completionMode:`, "${1}completionsMode:", "completionsMode"},
		{"field in the wrong case", `(?m)^(\s*)mountPath:`, "${1}mountpath:", "mountpath"},
		{"unknown nested field", `(?m)^(\s*)claimName:`, "${1}claim:", "claim"},
		{"wrong type", `(?m)^(\s*)completions: \d+`, "${1}completions: four", "completions"},
		{"duplicate key", `(?m)^(\s*)parallelism: (\d+)`, "${1}parallelism: $2\n${1}parallelism: $2", "parallelism"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			re := regexp.MustCompile(tc.from)
			if !re.Match(good) {
				t.Fatalf("%s no longer has a line matching %q: update this negative case", shardsFile, tc.from)
			}
			bad := re.ReplaceAll(good, []byte(tc.to))
			_, err := decodeObject(bad)
			if err == nil {
				t.Fatalf("a %s with %q → %q decoded without error; the strict decode lets mistakes through", shardsFile, tc.from, tc.to)
			}
			if !strings.Contains(err.Error(), tc.errorHas) {
				t.Errorf("the error does not name %q: %v", tc.errorHas, err)
			}
			t.Logf("rejected as expected: %v", err)
		})
	}
}

func ptrString(p *int32) string {
	if p == nil {
		return "unset"
	}
	return strconv.Itoa(int(*p))
}
