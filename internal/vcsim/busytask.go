package vcsim

import (
	"context"
	"fmt"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// busyExtension registers the task type of BusyTask: TaskManager.createTask takes only task
// types an extension declared ("taskTypeId: Extension registered task type identifier").
const (
	busyExtension = "com.instantclone.vcsim"
	busyTaskType  = busyExtension + ".busy"
)

// BusyTask is a task another client runs on an object, running until Finish: what vCenter's
// TaskInProgress fault names ("The task already in progress when the operation was
// attempted"). Tests hand it to an injected TaskInProgress to see how long a caller waits.
type BusyTask struct {
	Ref  types.ManagedObjectReference
	task *object.Task
}

// StartTask starts a BusyTask on obj.
func (s *Server) StartTask(ctx context.Context, obj types.ManagedObjectReference) (*BusyTask, error) {
	s.busyOnce.Do(func() {
		_, s.busyErr = methods.RegisterExtension(ctx, s.local, &types.RegisterExtension{
			This: *s.local.ServiceContent.ExtensionManager,
			Extension: types.Extension{
				Key: busyExtension, Version: "1", LastHeartbeatTime: time.Now(),
				Description: &types.Description{Label: "vcsim", Summary: "tasks of other clients"},
				TaskList:    []types.ExtensionTaskTypeInfo{{TaskID: busyTaskType}},
			},
		})
	})
	if s.busyErr != nil {
		return nil, fmt.Errorf("vcsim: registering the busy task type: %w", s.busyErr)
	}
	res, err := methods.CreateTask(ctx, s.local, &types.CreateTask{
		This: *s.local.ServiceContent.TaskManager, Obj: obj, TaskTypeId: busyTaskType, InitiatedBy: "another client",
	})
	if err != nil {
		return nil, fmt.Errorf("vcsim: creating a task on %s: %w", obj, err)
	}
	b := &BusyTask{Ref: res.Returnval.Task, task: object.NewTask(s.local, res.Returnval.Task)}
	// The simulator registers a created task asynchronously.
	for attempt := 0; ; attempt++ {
		err = b.task.SetState(ctx, types.TaskInfoStateRunning, nil, nil)
		if err == nil || attempt == 50 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("vcsim: starting task %s: %w", b.Ref.Value, err)
	}
	return b, nil
}

// Finish ends the task successfully.
func (b *BusyTask) Finish(ctx context.Context) error {
	return b.task.SetState(ctx, types.TaskInfoStateSuccess, nil, nil)
}
