// How many automatic engine restarts the host allows: at most `max` within any `windowMs`. An engine that crashes on
// every request (a GPU driver bug that kills it at each run) must not restart forever; past the budget the user gets
// a message with a "Restart Engine" action instead. No vscode import, so it is unit-tested on its own.

export class RestartBudget {
  private times: number[] = [];

  constructor(readonly max = 3, readonly windowMs = 60_000, private readonly now: () => number = Date.now) {}

  /** Records a crash; true if an automatic restart is still allowed for it. */
  take(): boolean {
    const t = this.now();
    this.times = this.times.filter((x) => t - x < this.windowMs);
    this.times.push(t);
    return this.times.length <= this.max;
  }

  /** Crashes counted in the current window. */
  get recent(): number {
    const t = this.now();
    return this.times.filter((x) => t - x < this.windowMs).length;
  }

  /** The user restarted the engine on purpose: start counting again. */
  reset(): void { this.times = []; }
}
