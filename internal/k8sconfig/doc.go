// Package k8sconfig holds the offline check of the Kubernetes manifests in configs/k8s (an Indexed Job running one
// clipeval shard per pod, a Job merging them, the ReadWriteMany volume they share). Its test strictly decodes every
// manifest into the official k8s.io/api types, so that a misspelled or unknown field or a wrong type fails as the
// API server would reject it, and checks that the files agree with each other and with clipeval's sharding: the
// number of shards in --shard auto/N equals completions, the merge Job merges the folder the shards write, both
// mount the one claim pvc.yaml defines. There is no non-test code; nothing here needs a cluster.
package k8sconfig
