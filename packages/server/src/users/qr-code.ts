import QRCode from 'qrcode';

/** The QR code of an otpauth URI, as a PNG data URL and as an SVG document. */
export interface QrImages {
  pngDataUrl: string;
  svg: string;
}

/**
 * Error correction M (15 %) and the 4-module quiet zone the QR standard asks for; 6 pixels per
 * module makes a PNG of about 250 px square for a TOTP URI, which phones scan from a screen.
 * The image depends only on the text, so the same URI always gives the same image.
 */
const OPTIONS = { errorCorrectionLevel: 'M', margin: 4 } as const;

export async function qrImages(text: string): Promise<QrImages> {
  const [pngDataUrl, svg] = await Promise.all([
    QRCode.toDataURL(text, { ...OPTIONS, type: 'image/png', scale: 6 }),
    QRCode.toString(text, { ...OPTIONS, type: 'svg' }),
  ]);
  return { pngDataUrl, svg };
}
