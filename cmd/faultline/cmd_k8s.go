package main

import (
	"github.com/spf13/cobra"

	"github.com/faultline-dev/faultline/chaos"
	"github.com/faultline-dev/faultline/experiments"
	"github.com/faultline-dev/faultline/internal/distrib"
)

func init() { register("k8s", newK8sCmd) }

func newK8sCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "k8s",
		Short: "Kubernetes objects faultline creates, as YAML",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newK8sManifestsCmd(e))
	return cmd
}

func newK8sManifestsCmd(e *env) *cobra.Command {
	var job chaos.GeneratorJob
	cmd := &cobra.Command{
		Use:   "manifests --generators N",
		Short: "Print the generator workers' objects (Secret, headless Service, Indexed Job) as YAML",
		Long: `manifests prints, as YAML documents, the objects that 'faultline load/run
--generators N --on kubernetes' creates: a Secret holding the run's token, a
headless Service (pod i answers at faultline-gen-RUNID-i.faultline-gen-RUNID
inside the cluster) and an Indexed Job of N 'faultline worker' pods, each
listening on port 7070. Apply them through your own pipeline, then give the
coordinator the pods' addresses in completion-index order (pod i runs
segment i/N) and the same token:

  FAULTLINE_WORKER_TOKEN=$TOKEN faultline load URL --rate ... --workers http://POD0:7070,http://POD1:7070,...

The token comes from $` + distrib.TokenEnv + ` (required: never a flag, so it does not
show in the process list). Everything is labelled faultline.run=RUNID;
delete it with
  kubectl delete job,service,secret -l faultline.run=RUNID`,
		Example: `  export FAULTLINE_WORKER_TOKEN=$(openssl rand -hex 32)
  faultline k8s manifests --generators 3 --run-id nightly --namespace load --image registry.example/faultline:1.2.0 | kubectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			job.Token = e.getenv(distrib.TokenEnv)
			if job.Token == "" {
				return usageErrorf("$%s is empty: the Secret holds the run's token, which the coordinator needs too", distrib.TokenEnv)
			}
			if job.Count < 1 || job.Count > experiments.MaxGenerators {
				return usageErrorf("--generators %d: want 1 to %d", job.Count, experiments.MaxGenerators)
			}
			if job.Deadline < 0 {
				return usageErrorf("--deadline %s: must not be negative", job.Deadline)
			}
			if job.RunID == "" {
				job.RunID = newRunID()
			}
			out, err := job.Manifests()
			if err != nil {
				return usageErrorf("%v", err)
			}
			_, err = e.stdout.Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&job.Count, "generators", 0, "number of worker pods (the Job's completions)")
	f.StringVar(&job.RunID, "run-id", "", "names the objects faultline-gen-RUNID and labels them faultline.run=RUNID (default a fresh one)")
	f.StringVar(&job.Namespace, "namespace", "", "namespace of the objects (default: none in the YAML, kubectl's)")
	f.StringVar(&job.Image, "image", "faultline/targets:latest", "faultline's image (its entrypoint the faultline binary)")
	f.DurationVar(&job.Deadline, "deadline", 0, "the Job's activeDeadlineSeconds: Kubernetes ends the workers this long after the Job starts, deleted or not (0: none; faultline load/run --on kubernetes set the load's length plus 10m)")
	return cmd
}
