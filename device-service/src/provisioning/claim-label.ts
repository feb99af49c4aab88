import QRCode from 'qrcode';

/** What the QR code on a machine encodes: the app reads serial and claim code from it. */
export function claimUri(serial: string, claimCode: string): string {
  return `spincycle://claim?serial=${encodeURIComponent(serial)}&code=${encodeURIComponent(claimCode)}`;
}

/** The printable claim label of a machine: an SVG QR code of its claim URI. */
export function claimLabelSvg(serial: string, claimCode: string): Promise<string> {
  return QRCode.toString(claimUri(serial, claimCode), { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}
