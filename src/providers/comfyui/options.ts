import { z } from 'zod';
import { checkInputs, DEFAULT_WORKFLOW_FILE, type InputMap, type NodeInput, parseNodeInput, readWorkflowFile, type Workflow } from './workflow.ts';

/** A boolean from YAML (`true`) or from JSON-in-an-environment-variable text (`"true"`). */
const Flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]);

const Milliseconds = z.coerce.number().int('a whole number of milliseconds').min(0).max(9_999_999);

/** `"<node id>.<input name>"`; null or "" where the workflow has no such input. */
const Ref = z.string().transform((text, ctx): NodeInput => {
  const ref = parseNodeInput(text);
  if (ref === null) {
    ctx.issues.push({ code: 'custom', message: `'${text}' is not "<node id>.<input name>" (e.g. "6.text")`, input: text });
    return z.NEVER;
  }
  return ref;
});
const OptionalRef = z.union([z.null(), z.literal(''), Ref]).transform((value) => (value === null || value === '' ? null : value));

/** The input map keys, as channels write them (ComfyUI's own input names). */
const MAP_FIELDS = {
  prompt: Ref,
  negative_prompt: OptionalRef,
  seed: OptionalRef,
  width: OptionalRef,
  height: OptionalRef,
  batch_size: OptionalRef,
  checkpoint: OptionalRef,
};

/** ComfyUI's default text-to-image workflow: positive 6, negative 7, KSampler 3, latent 5, checkpoint 4. */
const DEFAULT_MAP = {
  prompt: '6.text',
  negative_prompt: '7.text',
  seed: '3.seed',
  width: '5.width',
  height: '5.height',
  batch_size: '5.batch_size',
  checkpoint: '4.ckpt_name',
} as const;

/** A model's own workflow: a path, or a path with inputs mapped apart from the channel's. */
const ModelWorkflowSchema = z.union([
  z
    .string()
    .min(1)
    .transform((workflow) => ({ workflow })),
  z.strictObject({ workflow: z.string().min(1), ...partialMap() }),
]);

function partialMap() {
  return {
    prompt: MAP_FIELDS.prompt.optional(),
    negative_prompt: MAP_FIELDS.negative_prompt.optional(),
    seed: MAP_FIELDS.seed.optional(),
    width: MAP_FIELDS.width.optional(),
    height: MAP_FIELDS.height.optional(),
    batch_size: MAP_FIELDS.batch_size.optional(),
    checkpoint: MAP_FIELDS.checkpoint.optional(),
  };
}

type MapFields = { [K in keyof typeof MAP_FIELDS]: z.output<(typeof MAP_FIELDS)[K]> };

function toInputMap(fields: MapFields): InputMap {
  return {
    prompt: fields.prompt,
    negativePrompt: fields.negative_prompt,
    seed: fields.seed,
    width: fields.width,
    height: fields.height,
    batchSize: fields.batch_size,
    checkpoint: fields.checkpoint,
  };
}

/**
 * The channel options a `comfyui` channel reads:
 * - `workflow`: the path of a workflow in ComfyUI's API format (JSON); absent, ComfyUI's default
 *   text-to-image graph shipped in default-workflow.json. Read and checked once, at boot.
 * - `prompt`, `negative_prompt`, `seed`, `width`, `height`, `batch_size`, `checkpoint`: which node
 *   input takes each value, as `"<node id>.<input name>"` (defaults: the default workflow's ids);
 *   `null` where the workflow has no such input. `checkpoint` takes the channel's upstream model
 *   name (the `models:` value), so one workflow serves every checkpoint.
 * - `workflows`: model id → that model's own workflow, as a path or `{workflow, prompt?, …}`
 *   with inputs mapped apart from the channel's; checked at boot like `workflow`.
 * - `websocket`: follow progress over ComfyUI's `/ws` (default true); false polls
 *   `/history/{prompt_id}` only, e.g. behind a proxy that does not pass websockets.
 * - `websocketConnectTimeoutMs`: how long the socket may take to open before the call falls back
 *   to polling.
 * - `pollInitialMs`, `pollMaxMs`, `pollMinIntervalMs`: how `/history` is polled without a socket.
 * - `refusalPattern`: a case-insensitive regular expression; a node that fails with an error
 *   matching it (its type, class or message) refused the prompt: a safety checker in the graph.
 *   ComfyUI itself has no moderation.
 */
export const ComfyOptionsSchema = z
  .strictObject({
    workflow: z.string().min(1).optional(),
    prompt: MAP_FIELDS.prompt.prefault(DEFAULT_MAP.prompt),
    negative_prompt: MAP_FIELDS.negative_prompt.prefault(DEFAULT_MAP.negative_prompt),
    seed: MAP_FIELDS.seed.prefault(DEFAULT_MAP.seed),
    width: MAP_FIELDS.width.prefault(DEFAULT_MAP.width),
    height: MAP_FIELDS.height.prefault(DEFAULT_MAP.height),
    batch_size: MAP_FIELDS.batch_size.prefault(DEFAULT_MAP.batch_size),
    checkpoint: MAP_FIELDS.checkpoint.prefault(DEFAULT_MAP.checkpoint),
    workflows: z.record(z.string().min(1), ModelWorkflowSchema).default({}),
    websocket: Flag.default(true),
    websocketConnectTimeoutMs: Milliseconds.default(3000),
    pollInitialMs: Milliseconds.default(500),
    pollMaxMs: Milliseconds.default(2000),
    pollMinIntervalMs: Milliseconds.default(50),
    refusalPattern: z
      .string()
      .min(1)
      .refine((text) => isRegExp(text), 'not a valid regular expression')
      .default('nsfw|safety|unsafe|content.?policy|moderat'),
  })
  .transform((raw, ctx) => {
    const channelMap = toInputMap(raw);
    const load = (file: string | undefined, inputs: InputMap, at: readonly string[]): Workflow | null => {
      const read = readWorkflowFile(file ?? DEFAULT_WORKFLOW_FILE);
      if (!read.ok) {
        ctx.issues.push({ code: 'custom', message: read.message, path: [...at], input: file });
        return null;
      }
      const problems = checkInputs(read.graph, inputs);
      for (const problem of problems) ctx.issues.push({ code: 'custom', message: `${file ?? 'the default workflow'}: ${problem}`, path: [...at], input: file });
      return problems.length === 0 ? { source: file ?? 'the built-in default workflow', graph: read.graph, inputs } : null;
    };
    const workflow = load(raw.workflow, channelMap, ['workflow']);
    const byModel: Record<string, Workflow> = {};
    for (const [modelId, own] of Object.entries(raw.workflows)) {
      const inputs: InputMap = {
        prompt: 'prompt' in own && own.prompt !== undefined ? own.prompt : channelMap.prompt,
        negativePrompt: 'negative_prompt' in own && own.negative_prompt !== undefined ? own.negative_prompt : channelMap.negativePrompt,
        seed: 'seed' in own && own.seed !== undefined ? own.seed : channelMap.seed,
        width: 'width' in own && own.width !== undefined ? own.width : channelMap.width,
        height: 'height' in own && own.height !== undefined ? own.height : channelMap.height,
        batchSize: 'batch_size' in own && own.batch_size !== undefined ? own.batch_size : channelMap.batchSize,
        checkpoint: 'checkpoint' in own && own.checkpoint !== undefined ? own.checkpoint : channelMap.checkpoint,
      };
      const loaded = load(own.workflow, inputs, ['workflows', modelId]);
      if (loaded !== null) byModel[modelId] = loaded;
    }
    if (workflow === null) return z.NEVER;
    return {
      workflow,
      workflows: byModel,
      websocket: raw.websocket,
      websocketConnectTimeoutMs: raw.websocketConnectTimeoutMs,
      pollInitialMs: raw.pollInitialMs,
      pollMaxMs: Math.max(raw.pollInitialMs, raw.pollMaxMs),
      pollMinIntervalMs: raw.pollMinIntervalMs,
      refusal: new RegExp(raw.refusalPattern, 'i'),
    };
  });

export type ComfyOptions = z.output<typeof ComfyOptionsSchema>;

/** The workflow a request for `modelId` runs: the model's own, or the channel's. */
export function workflowFor(options: ComfyOptions, modelId: string): Workflow {
  return options.workflows[modelId] ?? options.workflow;
}

function isRegExp(text: string): boolean {
  try {
    new RegExp(text, 'i');
    return true;
  } catch {
    return false;
  }
}
