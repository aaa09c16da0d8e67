import { heapStats } from 'bun:jsc';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/**
 * What a process under measurement holds in its JavaScript heap, without code of its own in it:
 * preloaded there (`bun --preload ./test/bench/heap-probe.ts ...`, HEAP_PROBE_FILE set), it answers
 * SIGUSR2 by collecting garbage and writing the heap's figures (object counts by type, heap and
 * extra memory, resident set) to that file; `heapProbe` asks and reads the answer.
 */

export interface HeapProbe {
  rss: number;
  heapSize: number;
  heapCapacity: number;
  /** Memory held outside the heap by its objects (string and buffer contents). */
  extraMemorySize: number;
  objectCount: number;
  objectTypeCounts: Record<string, number>;
}

const file = process.env.HEAP_PROBE_FILE;
if (file) {
  process.on('SIGUSR2', () => {
    Bun.gc(true);
    const stats = heapStats();
    const probe: HeapProbe = {
      rss: process.memoryUsage().rss,
      heapSize: stats.heapSize,
      heapCapacity: stats.heapCapacity,
      extraMemorySize: stats.extraMemorySize,
      objectCount: stats.objectCount,
      objectTypeCounts: stats.objectTypeCounts,
    };
    writeFileSync(file, JSON.stringify(probe));
  });
}

/** Asks the process `pid` (started with this file preloaded and HEAP_PROBE_FILE=`path`). */
export async function heapProbe(pid: number, path: string): Promise<HeapProbe> {
  rmSync(path, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await Bun.sleep(50);
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as HeapProbe;
    } catch {
      // not written yet (or not whole yet)
    }
  }
  throw new Error(`process ${pid} did not answer the heap probe`);
}
