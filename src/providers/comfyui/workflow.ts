import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * A workflow in ComfyUI's API format ("Save (API Format)" in the UI): node id → `{class_type,
 * inputs}`, where an input is a literal value or a link `[source node id, output index]`
 * (ComfyUI server.py, `POST /prompt` takes exactly this as `prompt`).
 */
const ApiNodeSchema = z.looseObject({ class_type: z.string().min(1), inputs: z.record(z.string(), z.unknown()) });
const ApiGraphSchema = z.record(z.string(), ApiNodeSchema).refine((graph) => Object.keys(graph).length > 0, 'the workflow has no nodes');

export type ApiGraph = z.infer<typeof ApiGraphSchema>;

/** Where one request value goes: `<node id>.<input name>`, e.g. `6.text`. */
export interface NodeInput {
  readonly node: string;
  readonly input: string;
}

/** Which node input takes each value; null where the workflow has no such input. */
export interface InputMap {
  readonly prompt: NodeInput;
  readonly negativePrompt: NodeInput | null;
  readonly seed: NodeInput | null;
  readonly width: NodeInput | null;
  readonly height: NodeInput | null;
  readonly batchSize: NodeInput | null;
  readonly checkpoint: NodeInput | null;
}

/** A workflow read and checked at boot, with the inputs the gateway fills in. */
export interface Workflow {
  /** The file it came from, for messages (`built-in default` for the shipped one). */
  readonly source: string;
  readonly graph: ApiGraph;
  readonly inputs: InputMap;
}

/** What the request fills into a workflow. */
export interface WorkflowValues {
  readonly prompt: string;
  readonly negativePrompt: string | null;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly batchSize: number;
  readonly checkpoint: string;
}

/**
 * The default text-to-image graph of ComfyUI (its "Load Default" workflow): KSampler 3,
 * CheckpointLoaderSimple 4, EmptyLatentImage 5, CLIPTextEncode 6 (positive) and 7 (negative),
 * VAEDecode 8, SaveImage 9. The default input map points at those ids.
 */
export const DEFAULT_WORKFLOW_FILE = new URL('./default-workflow.json', import.meta.url);

/** `<node id>.<input name>`; node ids may hold dots or colons (subgraph ids), input names do not. */
export function parseNodeInput(text: string): NodeInput | null {
  const dot = text.lastIndexOf('.');
  if (dot <= 0 || dot === text.length - 1) return null;
  return { node: text.slice(0, dot), input: text.slice(dot + 1) };
}

export function formatNodeInput(ref: NodeInput): string {
  return `${ref.node}.${ref.input}`;
}

/** Reads a workflow file: the graph, or a sentence saying what is wrong with it. */
export function readWorkflowFile(file: string | URL): { ok: true; graph: ApiGraph } | { ok: false; message: string } {
  const where = typeof file === 'string' ? path.resolve(file) : 'the built-in default workflow';
  let text: string;
  try {
    text = readFileSync(typeof file === 'string' ? path.resolve(file) : file, 'utf8');
  } catch (err) {
    return { ok: false, message: `cannot read ${where}: ${(err as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `${where} is not JSON: ${(err as Error).message}` };
  }
  if (typeof json === 'object' && json !== null && 'nodes' in json && 'links' in json) {
    // The UI's own format (what "Save" writes) is not what POST /prompt takes.
    return { ok: false, message: `${where} is a ComfyUI UI workflow; export it with "Save (API Format)" instead` };
  }
  const parsed = ApiGraphSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue === undefined ? '' : issue.path.map(String).join('.');
    return { ok: false, message: `${where} is not a workflow in ComfyUI's API format (${at === '' ? '' : `${at}: `}${issue?.message ?? 'invalid'})` };
  }
  return { ok: true, graph: parsed.data };
}

/**
 * Checks that every mapped input is a literal input of a node the workflow has: a missing node or
 * input, or one wired to another node's output (a link), would make ComfyUI run a graph that
 * ignores the request. The problems, one sentence each, naming the node.
 */
export function checkInputs(graph: ApiGraph, inputs: InputMap): string[] {
  const problems: string[] = [];
  const entries: Array<[string, NodeInput | null]> = [
    ['prompt', inputs.prompt],
    ['negative_prompt', inputs.negativePrompt],
    ['seed', inputs.seed],
    ['width', inputs.width],
    ['height', inputs.height],
    ['batch_size', inputs.batchSize],
    ['checkpoint', inputs.checkpoint],
  ];
  for (const [option, ref] of entries) {
    if (ref === null) continue;
    const node = graph[ref.node];
    if (node === undefined) {
      problems.push(`${option} maps to node '${ref.node}', which the workflow does not have (its nodes: ${Object.keys(graph).join(', ')})`);
      continue;
    }
    if (!(ref.input in node.inputs)) {
      problems.push(
        `${option} maps to input '${ref.input}' of node '${ref.node}' (${node.class_type}), which has no such input (it has: ${Object.keys(node.inputs).join(', ')})`,
      );
      continue;
    }
    if (Array.isArray(node.inputs[ref.input])) {
      problems.push(`${option} maps to input '${ref.input}' of node '${ref.node}' (${node.class_type}), which is wired to another node, not a value`);
    }
  }
  return problems;
}

/** A copy of the workflow with the request's values in their inputs (the file's graph is never changed). */
export function fillWorkflow(workflow: Workflow, values: WorkflowValues): ApiGraph {
  const graph = structuredClone(workflow.graph);
  const set = (ref: NodeInput | null, value: string | number): void => {
    if (ref === null) return;
    const node = graph[ref.node];
    // checkInputs made sure at boot that the node is there.
    if (node !== undefined) node.inputs[ref.input] = value;
  };
  const { inputs } = workflow;
  set(inputs.prompt, values.prompt);
  // Without one from the request, the workflow's own negative prompt (its author's default) stays.
  if (values.negativePrompt !== null) set(inputs.negativePrompt, values.negativePrompt);
  set(inputs.seed, values.seed);
  set(inputs.width, values.width);
  set(inputs.height, values.height);
  set(inputs.batchSize, values.batchSize);
  set(inputs.checkpoint, values.checkpoint);
  return graph;
}
