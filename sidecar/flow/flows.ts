import type { AriEvent } from '../ari/schemas.ts';
import type { CallRow } from '../store.ts';
import { type FlowAriEvent, flowEventOf } from './ari-events.ts';
import { FlowMachine, type MachineOptions } from './machine.ts';

/**
 * The flows of the calls in flight: an ARI event for a call with a flow goes to its machine; the
 * call's StasisStart starts it (StasisStart after `amd` is the machine's own). Reconciliation ends
 * flows no machine here runs (see interruptIfOrphaned).
 */
export class Flows {
  private readonly machines = new Map<string, FlowMachine>();
  private parked = false;

  constructor(private readonly o: MachineOptions) {}

  /** The flow event in an ARI event, with the call id it concerns (the `;1` channel only). */
  read(event: AriEvent): { channelId: string; event: FlowAriEvent } | null {
    return flowEventOf(event);
  }

  has(callId: string): boolean {
    return this.machines.has(callId);
  }

  /** Live machines (for the metrics and tests). */
  count(): number {
    return this.machines.size;
  }

  deliver(call: CallRow, event: FlowAriEvent): void {
    if (!call.command.flow || this.parked) return;
    const machine = this.machines.get(call.callId);
    if (machine) {
      machine.deliver(event);
      return;
    }
    if (event.type !== 'StasisStart' || call.flow !== null || event.args?.[0] === 'amd') return;
    const started = new FlowMachine(this.o, call);
    this.machines.set(call.callId, started);
    void started.start().finally(() => this.machines.delete(call.callId));
  }

  /** The sidecar is stopping: every flow stops where it is, writing nothing (FlowMachine.park), and none starts. */
  park(): void {
    this.parked = true;
    for (const machine of this.machines.values()) machine.park();
  }

  /**
   * A call with a flow that no machine here runs: running when the previous process died, or never
   * started though its channel is up (its StasisStart was missed). Ends it `interrupted` and hangs
   * the channel up when `channelUp`. True when it did.
   */
  interruptIfOrphaned(call: CallRow, channelUp: boolean, missedStart: boolean): boolean {
    if (!call.command.flow || this.machines.has(call.callId)) return false;
    const running = call.flow?.phase === 'running';
    const neverStarted = call.flow === null && missedStart;
    if (!running && !neverStarted) return false;
    new FlowMachine(this.o, call).interrupt(
      running
        ? 'the sidecar restarted during the flow'
        : 'the flow never started: its StasisStart was missed',
      channelUp,
    );
    return true;
  }
}
