// The queue behind p-queue. p-queue's default queue keeps one array sorted by priority and takes from its front
// with Array.shift(), which moves every element: with 100,000 tasks waiting that is the pool's biggest cost.
// The pool uses two priorities only (0: new tasks; 1: tasks put back after their worker died, which go first),
// so two FIFO rings with a moving head do the same job in O(1).

type Run = () => Promise<unknown>;

interface Options {
  priority?: number;
  id?: string;
}

class Fifo {
  private items: (Run | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(run: Run): void {
    this.items.push(run);
  }

  shift(): Run | undefined {
    if (this.head >= this.items.length) return undefined;
    const run = this.items[this.head];
    this.items[this.head++] = undefined;
    // Drop the consumed prefix once it is most of the array (amortized O(1)).
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return run;
  }

  values(): Run[] {
    return this.items.slice(this.head) as Run[];
  }
}

/** A p-queue `queueClass`: priority > 0 before priority 0, FIFO within each. */
export class TaskQueue {
  private readonly urgent = new Fifo();
  private readonly normal = new Fifo();

  get size(): number {
    return this.urgent.size + this.normal.size;
  }

  enqueue(run: Run, options: Options = {}): void {
    ((options.priority ?? 0) > 0 ? this.urgent : this.normal).push(run);
  }

  dequeue(): Run | undefined {
    return this.urgent.size > 0 ? this.urgent.shift() : this.normal.shift();
  }

  filter(options: Readonly<Options>): Run[] {
    return ((options.priority ?? 0) > 0 ? this.urgent : this.normal).values();
  }

  setPriority(): void {
    throw new Error('unitpool: tasks have no ids to reprioritize');
  }
}
