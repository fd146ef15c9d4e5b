import { z } from 'zod';

/*
 * ComfyUI's answers, as its server.py and execution.py write them (Comfy-Org/ComfyUI @a125cd84).
 * Loose objects: ComfyUI adds keys between versions (`number`, `meta`, `display_node` …).
 */

/** `POST /prompt` accepted: `{prompt_id, number, node_errors}`. */
export const SubmitAnswerSchema = z.looseObject({ prompt_id: z.string().min(1), number: z.number().optional() });

/** One validation error of a node (execution.py validate_inputs): `{type, message, details, extra_info}`. */
const NodeErrorSchema = z.looseObject({ type: z.string().optional(), message: z.string().optional(), details: z.string().optional() });

/**
 * `POST /prompt` refused (400): `{error: {type, message, details, extra_info}, node_errors: {id:
 * {errors: [...], dependent_outputs, class_type}}}`; very old servers sent `error` as a string.
 */
export const SubmitErrorSchema = z.looseObject({
  error: z.union([z.string(), NodeErrorSchema]).optional(),
  node_errors: z
    .union([z.record(z.string(), z.looseObject({ errors: z.array(NodeErrorSchema).default([]), class_type: z.string().optional() })), z.array(z.unknown())])
    .optional(),
});
export type SubmitError = z.infer<typeof SubmitErrorSchema>;

/** An image a node wrote: fetched with `GET /view?filename=&subfolder=&type=`. */
export const OutputImageSchema = z.looseObject({ filename: z.string().min(1), subfolder: z.string().default(''), type: z.string().default('output') });
export type OutputImage = z.infer<typeof OutputImageSchema>;

/** A node's UI output (`executed.data.output`, `history.outputs[id]`); `images` where it wrote some. */
const NodeOutputSchema = z.looseObject({ images: z.array(OutputImageSchema).optional() });

/** What `execution_error` carries (execution.py handle_execution_error). */
export const ExecutionErrorSchema = z.looseObject({
  prompt_id: z.string().optional(),
  node_id: z.union([z.string(), z.number()]).nullish(),
  node_type: z.string().nullish(),
  exception_message: z.string().nullish(),
  exception_type: z.string().nullish(),
});
export type ExecutionError = z.infer<typeof ExecutionErrorSchema>;

/**
 * `GET /history/{prompt_id}`: `{}` while the prompt is queued or running, then `{<prompt_id>:
 * {prompt, outputs: {<node id>: {images: [...]}}, status: {status_str, completed, messages:
 * [[event, data], …]}, meta}}` (PromptQueue.task_done).
 */
export const HistoryEntrySchema = z.looseObject({
  outputs: z.record(z.string(), NodeOutputSchema).default({}),
  status: z
    .looseObject({
      status_str: z.string().optional(),
      completed: z.boolean().optional(),
      messages: z.array(z.tuple([z.string(), z.unknown()]).rest(z.unknown())).default([]),
    })
    .optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;
export const HistoryAnswerSchema = z.record(z.string(), z.unknown());

/** A text message of the `/ws` socket: `{type, data}` (server.py send_json). */
export const SocketMessageSchema = z.looseObject({ type: z.string(), data: z.unknown() });

/** `executing`: `{node, display_node, prompt_id}`; `node: null` once the prompt is done (main.py). */
export const ExecutingSchema = z.looseObject({ node: z.union([z.string(), z.number()]).nullable().optional(), prompt_id: z.string().nullish() });
/** `progress`: `{value, max, prompt_id, node}` per sampler step (main.py hijack_progress). */
export const ProgressSchema = z.looseObject({ value: z.number(), max: z.number(), prompt_id: z.string().nullish() });
/** `executed`: `{node, display_node, output, prompt_id}` when an output node ran (or was cached). */
export const ExecutedSchema = z.looseObject({ node: z.union([z.string(), z.number()]), output: NodeOutputSchema.nullish(), prompt_id: z.string().nullish() });
/** `execution_success`, `execution_interrupted`, `execution_start`: at least the prompt id. */
export const PromptEventSchema = z.looseObject({ prompt_id: z.string().nullish() });

/**
 * Binary frames (server.py encode_bytes): a 4-byte big-endian event type, then its payload. Type 1
 * (BinaryEventTypes.PREVIEW_IMAGE) is a sampler preview: a 4-byte image type (1 JPEG, 2 PNG), then
 * the image. Type 4 (PREVIEW_IMAGE_WITH_METADATA) is only sent to clients that announce the
 * `supports_preview_metadata` feature flag, which the gateway does not.
 */
export const PREVIEW_IMAGE_EVENT = 1;
