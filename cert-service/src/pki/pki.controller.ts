import {
  Body,
  Controller,
  ForbiddenException,
  Get,
  Header,
  HttpCode,
  Post,
  UnprocessableEntityException,
} from '@nestjs/common';
import { parseInput } from '../http/validation.js';
import {
  CertificatesService,
  CsrInvalid,
  EnrolmentRefused,
  type EnrolmentProof,
} from './certificates.service.js';
import { enrolmentSchema } from './enrolment.dto.js';

/** What devices and brokers reach: enrolment by CSR, the CA chain and the CRL. */
@Controller('v1/pki')
export class PkiController {
  constructor(private readonly certificates: CertificatesService) {}

  @Post('enrolments')
  @HttpCode(201)
  async enrol(@Body() body: unknown) {
    const request = parseInput(enrolmentSchema, body);
    const proof: EnrolmentProof =
      'enrolmentSecret' in request
        ? { kind: 'enrolment-secret', secret: request.enrolmentSecret }
        : {
            kind: 'current-certificate',
            certificatePem: request.certificate,
            signature: Buffer.from(request.proof, 'base64'),
          };
    try {
      const signed = await this.certificates.enrol(request.deviceId, request.csr, proof);
      return {
        serial: signed.serial,
        certificate: signed.certificatePem,
        chain: signed.chainPem,
        notBefore: signed.notBefore.toISOString(),
        notAfter: signed.notAfter.toISOString(),
      };
    } catch (err) {
      // One answer for every refused proof, so it says nothing about which part was wrong.
      if (err instanceof EnrolmentRefused) throw new ForbiddenException('enrolment not authorised');
      if (err instanceof CsrInvalid) throw new UnprocessableEntityException(err.message);
      throw err;
    }
  }

  @Get('ca')
  @Header('content-type', 'application/x-pem-file')
  async ca(): Promise<string> {
    return (await this.certificates.caChainPem()).join('');
  }

  @Get('crl')
  @Header('content-type', 'application/pkix-crl')
  @Header('cache-control', 'no-cache')
  async crlDer(): Promise<Buffer> {
    return (await this.certificates.crl()).der;
  }

  @Get('crl.pem')
  @Header('content-type', 'application/x-pem-file')
  @Header('cache-control', 'no-cache')
  async crlPem(): Promise<string> {
    return (await this.certificates.crl()).pem;
  }
}
