package coordination_test

import (
	"context"
	"fmt"
	"log"

	"github.com/tricyclehq/tricycle/coordination"
)

// The design note's first example: create an experiment and evaluate it
// with metrics measured elsewhere.
func Example() {
	ctx := context.Background()
	coordinator, err := coordination.NewLifecycleCoordinator(coordination.Options{})
	if err != nil {
		log.Fatal(err)
	}

	// Start coordinator
	if err := coordinator.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer coordinator.Stop(ctx)

	// Create experiment
	proposal, err := coordinator.CreateExperiment(ctx, coordination.ExperimentSpec{
		Title:      "Test GPT-4.5 for security analysis",
		Hypothesis: "GPT-4.5 will improve vulnerability detection by 20%",
		SuccessCriteria: map[string]string{
			"accuracy":        "> 90%",
			"latency_p95":     "< 3s",
			"cost_per_review": "< $0.15",
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	// Evaluate and get decision
	decision, err := coordinator.EvaluateExperiment(ctx, proposal.ExperimentID,
		map[string]float64{"accuracy": 0.92, "latency_p95": 2.5, "cost_per_review": 0.12})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(decision)
	// Output: PROMOTE
}

// The design note's usage example: start an experiment, evaluate it, approve
// the promotion that PROMOTE created, and read the system status.
func Example_usage() {
	ctx := context.Background()
	// Initialize
	coordinator, err := coordination.NewLifecycleCoordinator(coordination.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := coordinator.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer coordinator.Stop(ctx)

	// Create experiment
	proposal, err := coordinator.CreateExperiment(ctx, coordination.ExperimentSpec{
		Title:      "Test new prompt strategy",
		Hypothesis: "Shorter prompts reduce cost 25%",
		SuccessCriteria: map[string]string{
			"cost_reduction": "> 20%",
			"accuracy":       "> 95%",
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	// Start experiment
	if err := coordinator.StartExperiment(ctx, proposal.ExperimentID, "admin@example.com"); err != nil {
		log.Fatal(err)
	}

	// ... run experiment for evaluation period ...

	// Evaluate
	decision, err := coordinator.EvaluateExperiment(ctx, proposal.ExperimentID,
		map[string]float64{"cost_reduction": 0.28, "accuracy": 0.96})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(decision)

	if decision == coordination.Promote {
		// Approve promotion (triggers canary)
		promotions, err := coordinator.Promotion().GetActivePromotions(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if len(promotions) > 0 {
			if err := coordinator.ApprovePromotion(ctx, promotions[0].RequestID, "admin@example.com"); err != nil {
				log.Fatal(err)
			}
		}
	}

	// Get system status
	status, err := coordinator.SystemStatus(ctx)
	if err != nil {
		log.Fatal(err)
	}
	p := status.ActivePromotions[0]
	fmt.Printf("canary %s serving %d%%\n", p.State, p.TrafficPercent)
	fmt.Println("production:", status.Production.Variant.Name, "SLO compliant:", status.SLO.Compliant)
	// Output:
	// PROMOTE
	// canary phase_1 serving 10%
	// production: baseline SLO compliant: true
}

// The design note's quarantine example: quarantine a failed experiment, then
// review it and approve a retry.
func ExampleQuarantineManager_QuarantineExperiment() {
	ctx := context.Background()
	coordinator, err := coordination.NewLifecycleCoordinator(coordination.Options{})
	if err != nil {
		log.Fatal(err)
	}
	proposal, err := coordinator.CreateExperiment(ctx, coordination.ExperimentSpec{
		Title:           "Smaller model for style findings",
		SuccessCriteria: map[string]string{"accuracy": "> 90%"},
		Variant:         coordination.Variant{Name: "small", Provider: "openai", Model: "small-1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	quarantine := coordinator.Quarantine()

	// Quarantine failed experiment
	record, err := quarantine.QuarantineExperiment(ctx, coordination.QuarantineSpec{
		ExperimentID:     proposal.ExperimentID,
		FailureType:      "accuracy_degradation",
		FailureEvidence:  map[string]any{"accuracy": 0.72},
		ErrorLogs:        "Model hallucination detected...",
		MetricsAtFailure: map[string]float64{"accuracy": 0.72, "error_rate": 0.15},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("root cause:", record.RootCause.Category)

	// The same variant is now refused.
	_, err = coordinator.CreateExperiment(ctx, coordination.ExperimentSpec{
		Title:   "Smaller model again",
		Variant: coordination.Variant{Name: "small-again", Provider: "openai", Model: "small-1"},
	})
	fmt.Println("retry blocked:", err != nil)

	// Review for potential retry (quarterly)
	err = quarantine.ReviewQuarantined(ctx, coordination.ReviewSpec{
		RecordID:      record.RecordID,
		Reviewer:      "admin@example.com",
		RetryApproved: true,
		Notes:         "New model available, worth retrying",
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = coordinator.CreateExperiment(ctx, coordination.ExperimentSpec{
		Title:   "Smaller model again",
		Variant: coordination.Variant{Name: "small-again", Provider: "openai", Model: "small-1"},
	})
	fmt.Println("allowed after review:", err == nil)
	// Output:
	// root cause: model_quality
	// retry blocked: true
	// allowed after review: true
}
