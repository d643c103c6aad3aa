// The tasks waiting for a worker, in the order they go out: tasks put back after their worker died first, then
// new tasks, FIFO within each. Two rings with a moving head: push and shift are O(1) (an Array.shift() moves
// every element, which with 100,000 tasks waiting was the pool's biggest cost).
//
// It holds what it is given and nothing else: the scheduler decides what a waiting task is (a cancelled one stays
// here until it comes up, and is skipped then).

import type { Task } from './task.js';

class Ring {
  private items: (Task | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(task: Task): void {
    this.items.push(task);
  }

  shift(): Task | undefined {
    if (this.head >= this.items.length) return undefined;
    const task = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      // Empty again: start over (the common case of a pool that keeps up; no array grows without bound).
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // Drop the consumed prefix once it is most of the array (amortized O(1)).
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return task;
  }

  *values(): IterableIterator<Task> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

export class TaskQueue {
  private readonly urgent = new Ring();
  private readonly normal = new Ring();

  /** Entries, cancelled tasks still waiting to be skipped included. */
  get size(): number {
    return this.urgent.size + this.normal.size;
  }

  /** A new task: behind every other. */
  push(task: Task): void {
    this.normal.push(task);
  }

  /** A task put back after its worker died: ahead of the new ones (behind others put back before it). */
  pushUrgent(task: Task): void {
    this.urgent.push(task);
  }

  shift(): Task | undefined {
    return this.urgent.size > 0 ? this.urgent.shift() : this.normal.shift();
  }

  /** The waiting tasks in the order they would go out. */
  *values(): IterableIterator<Task> {
    yield* this.urgent.values();
    yield* this.normal.values();
  }

  clear(): void {
    this.urgent.clear();
    this.normal.clear();
  }
}
