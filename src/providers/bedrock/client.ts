import type * as BedrockSdkModule from '@aws-sdk/client-bedrock-runtime';
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { GatewayError } from '../../errors.ts';
import { parseJson } from '../shared/call-upstream.ts';
import type { Channel, ProviderCall } from '../types.ts';
import { ChannelHttpHandler } from './channel-http-handler.ts';
import { bedrockError } from './errors.ts';
import type { BedrockOptions } from './options.ts';

const PROVIDER = 'bedrock';

/**
 * The base URL a channel gets when it names none. It stands for "the SDK's regional endpoint":
 * a channel on it is sent to `bedrock-runtime.<region>.amazonaws.com` for its `options.region`
 * (so `region: eu-west-1` alone is enough), and only a base URL the operator wrote (a VPC
 * endpoint, a proxy, a test fake) overrides the SDK's endpoint. The gateway needs some URL for
 * every channel (build-channels.ts); this one is right for the default region.
 */
export const DEFAULT_BASE_URL = 'https://bedrock-runtime.us-east-1.amazonaws.com';

const DEFAULT_REGION = 'us-east-1';

/** `bedrock-runtime.<region>.amazonaws.com`, `bedrock-runtime-fips.<region>…` or a VPC endpoint's `….bedrock-runtime.<region>.vpce.amazonaws.com`. */
const REGIONAL_HOST = /(?:^|\.)bedrock-runtime(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$/;

/** One client per channel: it holds the resolved credentials (and their refresh) between calls. */
const clients = new WeakMap<Channel, BedrockRuntimeClient>();

/** The region a channel signs for: its option, else the one its base URL names, else us-east-1. */
export function regionOf(channel: Channel, options: BedrockOptions): string {
  if (options.region !== undefined) return options.region;
  const host = URL.canParse(channel.baseUrl) ? new URL(channel.baseUrl).hostname : '';
  return REGIONAL_HOST.exec(host)?.[1] ?? DEFAULT_REGION;
}

/**
 * The AWS SDK, loaded when a Bedrock channel is first called: a gateway without one never holds
 * its modules (several megabytes of heap that every garbage collection would mark).
 */
type BedrockSdk = typeof BedrockSdkModule;

function clientFor(sdk: BedrockSdk, call: ProviderCall<BedrockOptions>): BedrockRuntimeClient {
  const { channel, options } = call;
  const cached = clients.get(channel);
  if (cached !== undefined) return cached;
  let credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  if (options.accessKeyId !== undefined) {
    if (channel.apiKey === null) {
      throw new GatewayError(
        'upstream_configuration_error',
        `A ${PROVIDER} channel names options.accessKeyId without its secret access key as apiKey; the operator has been alerted.`,
      );
    }
    credentials = {
      accessKeyId: options.accessKeyId,
      secretAccessKey: channel.apiKey,
      ...(options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken }),
    };
  } else if (channel.apiKey !== null) {
    // A secret without its key id cannot sign anything; using the default chain instead would
    // quietly call AWS with other credentials than the operator wrote.
    throw new GatewayError(
      'upstream_configuration_error',
      `A ${PROVIDER} channel has an apiKey but no options.accessKeyId to go with it; the operator has been alerted.`,
    );
  }
  const client = new sdk.BedrockRuntimeClient({
    region: regionOf(channel, options),
    ...(channel.baseUrl === DEFAULT_BASE_URL ? {} : { endpoint: channel.baseUrl }),
    // Absent, the SDK's default chain (environment, shared config, SSO, web identity, ECS and EC2 roles).
    ...(credentials === undefined ? {} : { credentials }),
    // The router retries (with its backoff, deadline and fallback to other channels); SDK retries
    // inside one attempt would multiply them and outlive the attempt's timeout.
    maxAttempts: 1,
    requestHandler: new ChannelHttpHandler(channel),
  });
  clients.set(channel, client);
  return client;
}

/**
 * One InvokeModel call (`POST /model/{modelId}/invoke`, SigV4-signed by the SDK) with a JSON body,
 * answered with the model's own JSON. The attempt's signal cancels the request; an abort is
 * rethrown as its reason so the router can tell a client leaving from a timeout.
 */
export async function invokeModel(call: ProviderCall<BedrockOptions>, body: unknown): Promise<unknown> {
  const sdk = await import('@aws-sdk/client-bedrock-runtime');
  const client = clientFor(sdk, call);
  let text: string;
  try {
    const output = await client.send(
      new sdk.InvokeModelCommand({
        modelId: call.upstreamModel,
        contentType: 'application/json',
        accept: 'application/json',
        body: Buffer.from(JSON.stringify(body)),
      }),
      { abortSignal: call.signal },
    );
    text = output.body.transformToString('utf8');
  } catch (err) {
    if (call.signal.aborted) throw call.signal.reason;
    const error = bedrockError(err, sdk.BedrockRuntimeServiceException);
    call.logger.warn(
      {
        requestId: call.requestId,
        channel: call.channel.id,
        model: call.upstreamModel,
        upstreamError: err instanceof Error ? err.name : undefined,
        code: error.code,
      },
      'upstream refused',
    );
    throw error;
  }
  return parseJson(PROVIDER, text);
}
