import { randomBytes } from 'node:crypto';

/** One part of a multipart/form-data body. */
export type FormPart =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly filename: string; readonly contentType: string; readonly bytes: Buffer };

/** RFC 7578 multipart/form-data with a random boundary. */
export function encodeMultipart(parts: readonly FormPart[]): { body: Buffer; contentType: string } {
  const boundary = `----imagegate${randomBytes(16).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const name = quote(part.name);
    if ('value' in part) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${part.value}\r\n`, 'utf8'));
    } else {
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${quote(part.filename)}"\r\nContent-Type: ${part.contentType}\r\n\r\n`,
          'utf8',
        ),
        part.bytes,
        Buffer.from('\r\n', 'latin1'),
      );
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Quotes in names are percent-encoded, as browsers do (WHATWG HTML, "multipart/form-data encoding"). */
function quote(text: string): string {
  return text.replaceAll('"', '%22').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
}
