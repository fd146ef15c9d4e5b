import { callUpstream, parseJson, type UpstreamResponse } from '../shared/call-upstream.ts';
import type { Channel } from '../types.ts';

/**
 * Headers for every call to a ComfyUI server. ComfyUI has no authentication of its own
 * (server.py); a channel with an `apiKey` sends it as a Bearer token, for the reverse proxies
 * operators put in front of it.
 */
export function comfyHeaders(channel: Channel, json: boolean): Record<string, string> {
  const headers: Record<string, string> = { accept: json ? 'application/json' : '*/*' };
  if (json) headers['content-type'] = 'application/json';
  if (channel.apiKey !== null) headers['authorization'] = `Bearer ${channel.apiKey}`;
  return headers;
}

export async function comfyGet(channel: Channel, pathAndQuery: string, signal: AbortSignal): Promise<UpstreamResponse> {
  return callUpstream(channel, { method: 'GET', url: `${channel.baseUrl}${pathAndQuery}`, headers: comfyHeaders(channel, false), signal });
}

export async function comfyPost(channel: Channel, path: string, body: unknown, signal: AbortSignal): Promise<UpstreamResponse> {
  return callUpstream(channel, { method: 'POST', url: `${channel.baseUrl}${path}`, headers: comfyHeaders(channel, true), body: JSON.stringify(body), signal });
}

export function comfyJson(response: UpstreamResponse): unknown {
  return parseJson('comfyui', response.text);
}
