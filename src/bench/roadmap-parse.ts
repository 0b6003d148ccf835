import { loadavg } from 'node:os';
import { generateLargeRoadmap, parseRoadmap } from '../roadmap/index.js';

export interface RoadmapParseFigure {
  lines: number;
  headings: number;
  items: number;
  runs: number;
  medianMs: number;
  maxMs: number;
}

function measure(text: string, runs: number): RoadmapParseFigure {
  const times: number[] = [];
  let items = 0;
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    const parsed = parseRoadmap(text);
    times.push(performance.now() - start);
    items = parsed.items.length + parsed.duplicates.length;
  }
  times.sort((a, b) => a - b);
  const lines = text.split('\n');
  return {
    lines: lines.length,
    headings: lines.filter((line) => /^ {0,3}#{1,6}\s/.test(line)).length,
    items,
    runs,
    medianMs: times[Math.floor(times.length / 2)] ?? 0,
    maxMs: times.at(-1) ?? 0,
  };
}

/** Roadmap parse times: a generated 33,000-line roadmap, the hand-grown fixture, and a 1,000,000-line file. */
export function benchmarkRoadmapParse(handGrown: string): { large: RoadmapParseFigure; handGrown: RoadmapParseFigure; huge: RoadmapParseFigure; peakRssMb: number; loadAverage: number } {
  const large = measure(generateLargeRoadmap(33_000), 21);
  const grown = measure(handGrown, 21);
  const huge = measure(generateLargeRoadmap(1_000_000), 3);
  return { large, handGrown: grown, huge, peakRssMb: process.memoryUsage().rss / 1024 / 1024, loadAverage: loadavg()[0] ?? 0 };
}
