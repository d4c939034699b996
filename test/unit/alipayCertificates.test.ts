// Certificate mode (公钥证书): the SN digests alipay-sdk computes, reproduced with node:crypto alone,
// against real certificates from Alipay. The certificates are alipay/alipay-sdk-nodejs-all's test
// fixtures (MIT), release 4.14.0; they expired in 2022, which the SN computation must not care about.
import { createSign, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  AlipayCertificateError,
  certificateFileSn,
  certificatePublicKey,
  parseCertificates,
  rootCertificateSn,
  signatureAlgorithmOid,
} from "../../lib/alipay/certificates.js";
import { AlipayGateway } from "../../lib/alipay/gateway.js";
import { alipayKeys, resetConfig } from "../../lib/config.js";
import { issueCertificates } from "../../simulator/certificates.js";
import { generateRsaKeyPair } from "../../simulator/keys.js";

/** appCertPublicKey_2021001161683774.crt: an app's public-key certificate. */
const appCert = `-----BEGIN CERTIFICATE-----
MIIEsTCCA5mgAwIBAgIQICAFGGIDnUCQiXuk1RwhJjANBgkqhkiG9w0BAQsFADCBgjELMAkGA1UE
BhMCQ04xFjAUBgNVBAoMDUFudCBGaW5hbmNpYWwxIDAeBgNVBAsMF0NlcnRpZmljYXRpb24gQXV0
aG9yaXR5MTkwNwYDVQQDDDBBbnQgRmluYW5jaWFsIENlcnRpZmljYXRpb24gQXV0aG9yaXR5IENs
YXNzIDEgUjEwHhcNMjAwNTE4MDUyODQ3WhcNMjIwNTE4MDUyODQ3WjB5MQswCQYDVQQGEwJDTjEt
MCsGA1UECgwk5p2t5bee54SV5pet5L+h5oGv5oqA5pyv5pyJ6ZmQ5YWs5Y+4MQ8wDQYDVQQLDAZB
bGlwYXkxKjAoBgNVBAMMITIwODg4MzEyMDQ2NTkyMTctMjAyMTAwMTE2MTY4Mzc3NDCCASIwDQYJ
KoZIhvcNAQEBBQADggEPADCCAQoCggEBAJxb57A3/QC/2oDPcZrqWKPs/2qjVlY/x00s3OWa0Cnh
ftO/4tk33cuVEwaQW7b/KbeyfmZ7p8SoxJ9UBDASDACq4TGgR0hFFIIT1FCjeUe8owXyaQsjbKL/
6woXKHHOAaNCY42d9uKZ0ZAyeyX4gF+eEWVmobkDjUAYi6FdL/zyogbrKrYFibmKbTjuVocvlZN2
2R6CEJHCSnc3lw+Ya9NVe7DDx05B8MUQMPBZe9ZhvQb2D75bniV1i4clv/lezKdWyT//d/dIpGVx
4tt92bMwt//UeFG2jLTWJG6h9bv6RCp4O7NFwE4IVMsJhoFTQKEatBx5wsfbYUC3Ivuo2/MCAwEA
AaOCASkwggElMB8GA1UdIwQYMBaAFHEH4gRhFuTl8mXrMQ/J4PQ8mtWRMB0GA1UdDgQWBBSXl4+T
1U+ja4hCST3DlTQAAKQ/tTBABgNVHSAEOTA3MDUGB2CBHAFuAQEwKjAoBggrBgEFBQcCARYcaHR0
cDovL2NhLmFsaXBheS5jb20vY3BzLnBkZjAOBgNVHQ8BAf8EBAMCBsAwLwYDVR0fBCgwJjAkoCKg
IIYeaHR0cDovL2NhLmFsaXBheS5jb20vY3JsNDEuY3JsMGAGCCsGAQUFBwEBBFQwUjAoBggrBgEF
BQcwAoYcaHR0cDovL2NhLmFsaXBheS5jb20vY2E2LmNlcjAmBggrBgEFBQcwAYYaaHR0cDovL2Nh
LmFsaXBheS5jb206ODM0MC8wDQYJKoZIhvcNAQELBQADggEBALeeTrnXKUYapQ/ig9MB4h9KoP3g
27BVJwOxYaIqWxm6iDvOr/Ju+/8QKygnH6dM3+6+pShCdHsCFaSAQM4gUwxS4F1PcISjKs3LQ6Q8
eWHZMV9w292DOzFRNUoMmgI2yAGOW6DxmnNDFxbVjzcABsrjOmoqso5c4y82K7cl9AfvTm+ThOC3
wPQqTiLOZ6xoSL8pO4V+BkPrJTKJNqX0cVPm+QLP+TC411GTjrmz2nv1OPEVSTey5HaB6HWQeDz7
hGnbipZswfCRHRiu42+4pQZw+3rQ6uRzSPMpxgk7RaBWexybrqRk6ZfyXMcxJvNDWWk/EQlzLL8S
RuJzW8kcFrE=
-----END CERTIFICATE-----`;

/** alipayCertPublicKey_RSA2.crt: Alipay's public-key certificate. */
const alipayCert = `-----BEGIN CERTIFICATE-----
MIIDsjCCApqgAwIBAgIQICAFFOY8L+BNU4cW/iE1izANBgkqhkiG9w0BAQsFADCBgjELMAkGA1UE
BhMCQ04xFjAUBgNVBAoMDUFudCBGaW5hbmNpYWwxIDAeBgNVBAsMF0NlcnRpZmljYXRpb24gQXV0
aG9yaXR5MTkwNwYDVQQDDDBBbnQgRmluYW5jaWFsIENlcnRpZmljYXRpb24gQXV0aG9yaXR5IENs
YXNzIDIgUjEwHhcNMjAwNTE0MTQ0MjAxWhcNMjIwNTE0MTQ0MjAxWjCBkjELMAkGA1UEBhMCQ04x
LTArBgNVBAoMJOadreW3nueEleaXreS/oeaBr+aKgOacr+aciemZkOWFrOWPuDEPMA0GA1UECwwG
QWxpcGF5MUMwQQYDVQQDDDrmlK/ku5jlrp0o5Lit5Zu9Kee9kee7nOaKgOacr+aciemZkOWFrOWP
uC0yMDg4ODMxMjA0NjU5MjE3MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAhoVesfcG
vUv1XvUndmX0rmSZ/2posJBCooySbSVFpV79RtHMzrVz2aKkC3WvOXeT5iNeQK4mK8gp3vNkWrHT
kQGx5BcmkeO1WS384CQde7dAS0gmxeFs5bs+cCQqV2A2c2R9/5rJMtFtp1Ot/rIiMBUn6Ei0Uozt
M7AneavqQEzSwYlCKNhPFFtHCiz7u4O5R9CIyvUmYr+zpem2HXBN9ygPAZ0aXBQipGbc45+G07ZC
NsmY4hV/Igya1aBf+Ye8p10Ew8uBBri0sIknhSC2LqKKy2IH1fO6q1d1jhN240QRHvbpRNv60kAf
ZsEulBASBrCMBi49NiJyr5nre7SNywIDAQABoxIwEDAOBgNVHQ8BAf8EBAMCA/gwDQYJKoZIhvcN
AQELBQADggEBAEx9T99X9NhDZYXDftc0wH0Tc5OVRIqWTYBN/KEP1df+Ix5djcDrUUcXJMvprMw3
frUymgJsf7YUgZ1+dMz+Gup5dCH3qUu/5c9R3d8senb4wCiYR2FpJ3WGIONwInNQTs04a2wM4JIM
CdCYWC/H1hdvNl9V4pYeMckTruSnPmJlL6E/pNF5AuIYP5AswZSOhASIQzt5Rr6QDz/YVGi2/6al
5Bknm2f9dmsZbWDapKDrlJ3Ny2B0SZ0H47Y7lRlaVNe+Jj1jsrv16ONk1XLt71jyWyPAIlITLcyX
mMtT1IympPFRxBIngEImjGt6d1VUtkf61Cjpr0bRRDoZXvWRv5U=
-----END CERTIFICATE-----`;

/** alipayRootCert.crt: Alipay's root bundle (SM2, Ant R1 sha256RSA, Ant E1 ECDSA, iTrusChina G3 sha1RSA). */
const rootCert = `-----BEGIN CERTIFICATE-----
MIIBszCCAVegAwIBAgIIaeL+wBcKxnswDAYIKoEcz1UBg3UFADAuMQswCQYDVQQG
EwJDTjEOMAwGA1UECgwFTlJDQUMxDzANBgNVBAMMBlJPT1RDQTAeFw0xMjA3MTQw
MzExNTlaFw00MjA3MDcwMzExNTlaMC4xCzAJBgNVBAYTAkNOMQ4wDAYDVQQKDAVO
UkNBQzEPMA0GA1UEAwwGUk9PVENBMFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE
MPCca6pmgcchsTf2UnBeL9rtp4nw+itk1Kzrmbnqo05lUwkwlWK+4OIrtFdAqnRT
V7Q9v1htkv42TsIutzd126NdMFswHwYDVR0jBBgwFoAUTDKxl9kzG8SmBcHG5Yti
W/CXdlgwDAYDVR0TBAUwAwEB/zALBgNVHQ8EBAMCAQYwHQYDVR0OBBYEFEwysZfZ
MxvEpgXBxuWLYlvwl3ZYMAwGCCqBHM9VAYN1BQADSAAwRQIgG1bSLeOXp3oB8H7b
53W+CKOPl2PknmWEq/lMhtn25HkCIQDaHDgWxWFtnCrBjH16/W3Ezn7/U/Vjo5xI
pDoiVhsLwg==
-----END CERTIFICATE-----

-----BEGIN CERTIFICATE-----
MIIF0zCCA7ugAwIBAgIIH8+hjWpIDREwDQYJKoZIhvcNAQELBQAwejELMAkGA1UE
BhMCQ04xFjAUBgNVBAoMDUFudCBGaW5hbmNpYWwxIDAeBgNVBAsMF0NlcnRpZmlj
YXRpb24gQXV0aG9yaXR5MTEwLwYDVQQDDChBbnQgRmluYW5jaWFsIENlcnRpZmlj
YXRpb24gQXV0aG9yaXR5IFIxMB4XDTE4MDMyMTEzNDg0MFoXDTM4MDIyODEzNDg0
MFowejELMAkGA1UEBhMCQ04xFjAUBgNVBAoMDUFudCBGaW5hbmNpYWwxIDAeBgNV
BAsMF0NlcnRpZmljYXRpb24gQXV0aG9yaXR5MTEwLwYDVQQDDChBbnQgRmluYW5j
aWFsIENlcnRpZmljYXRpb24gQXV0aG9yaXR5IFIxMIICIjANBgkqhkiG9w0BAQEF
AAOCAg8AMIICCgKCAgEAtytTRcBNuur5h8xuxnlKJetT65cHGemGi8oD+beHFPTk
rUTlFt9Xn7fAVGo6QSsPb9uGLpUFGEdGmbsQ2q9cV4P89qkH04VzIPwT7AywJdt2
xAvMs+MgHFJzOYfL1QkdOOVO7NwKxH8IvlQgFabWomWk2Ei9WfUyxFjVO1LVh0Bp
dRBeWLMkdudx0tl3+21t1apnReFNQ5nfX29xeSxIhesaMHDZFViO/DXDNW2BcTs6
vSWKyJ4YIIIzStumD8K1xMsoaZBMDxg4itjWFaKRgNuPiIn4kjDY3kC66Sl/6yTl
YUz8AybbEsICZzssdZh7jcNb1VRfk79lgAprm/Ktl+mgrU1gaMGP1OE25JCbqli1
Pbw/BpPynyP9+XulE+2mxFwTYhKAwpDIDKuYsFUXuo8t261pCovI1CXFzAQM2w7H
DtA2nOXSW6q0jGDJ5+WauH+K8ZSvA6x4sFo4u0KNCx0ROTBpLif6GTngqo3sj+98
SZiMNLFMQoQkjkdN5Q5g9N6CFZPVZ6QpO0JcIc7S1le/g9z5iBKnifrKxy0TQjtG
PsDwc8ubPnRm/F82RReCoyNyx63indpgFfhN7+KxUIQ9cOwwTvemmor0A+ZQamRe
9LMuiEfEaWUDK+6O0Gl8lO571uI5onYdN1VIgOmwFbe+D8TcuzVjIZ/zvHrAGUcC
AwEAAaNdMFswCwYDVR0PBAQDAgEGMAwGA1UdEwQFMAMBAf8wHQYDVR0OBBYEFF90
tATATwda6uWx2yKjh0GynOEBMB8GA1UdIwQYMBaAFF90tATATwda6uWx2yKjh0Gy
nOEBMA0GCSqGSIb3DQEBCwUAA4ICAQCVYaOtqOLIpsrEikE5lb+UARNSFJg6tpkf
tJ2U8QF/DejemEHx5IClQu6ajxjtu0Aie4/3UnIXop8nH/Q57l+Wyt9T7N2WPiNq
JSlYKYbJpPF8LXbuKYG3BTFTdOVFIeRe2NUyYh/xs6bXGr4WKTXb3qBmzR02FSy3
IODQw5Q6zpXj8prYqFHYsOvGCEc1CwJaSaYwRhTkFedJUxiyhyB5GQwoFfExCVHW
05ZFCAVYFldCJvUzfzrWubN6wX0DD2dwultgmldOn/W/n8at52mpPNvIdbZb2F41
T0YZeoWnCJrYXjq/32oc1cmifIHqySnyMnavi75DxPCdZsCOpSAT4j4lAQRGsfgI
kkLPGQieMfNNkMCKh7qjwdXAVtdqhf0RVtFILH3OyEodlk1HYXqX5iE5wlaKzDop
PKwf2Q3BErq1xChYGGVS+dEvyXc/2nIBlt7uLWKp4XFjqekKbaGaLJdjYP5b2s7N
1dM0MXQ/f8XoXKBkJNzEiM3hfsU6DOREgMc1DIsFKxfuMwX3EkVQM1If8ghb6x5Y
jXayv+NLbidOSzk4vl5QwngO/JYFMkoc6i9LNwEaEtR9PhnrdubxmrtM+RjfBm02
77q3dSWFESFQ4QxYWew4pHE0DpWbWy/iMIKQ6UZ5RLvB8GEcgt8ON7BBJeMc+Dyi
kT9qhqn+lw==
-----END CERTIFICATE-----

-----BEGIN CERTIFICATE-----
MIICiDCCAgygAwIBAgIIQX76UsB/30owDAYIKoZIzj0EAwMFADB6MQswCQYDVQQG
EwJDTjEWMBQGA1UECgwNQW50IEZpbmFuY2lhbDEgMB4GA1UECwwXQ2VydGlmaWNh
dGlvbiBBdXRob3JpdHkxMTAvBgNVBAMMKEFudCBGaW5hbmNpYWwgQ2VydGlmaWNh
dGlvbiBBdXRob3JpdHkgRTEwHhcNMTkwNDI4MTYyMDQ0WhcNNDkwNDIwMTYyMDQ0
WjB6MQswCQYDVQQGEwJDTjEWMBQGA1UECgwNQW50IEZpbmFuY2lhbDEgMB4GA1UE
CwwXQ2VydGlmaWNhdGlvbiBBdXRob3JpdHkxMTAvBgNVBAMMKEFudCBGaW5hbmNp
YWwgQ2VydGlmaWNhdGlvbiBBdXRob3JpdHkgRTEwdjAQBgcqhkjOPQIBBgUrgQQA
IgNiAASCCRa94QI0vR5Up9Yr9HEupz6hSoyjySYqo7v837KnmjveUIUNiuC9pWAU
WP3jwLX3HkzeiNdeg22a0IZPoSUCpasufiLAnfXh6NInLiWBrjLJXDSGaY7vaokt
rpZvAdmjXTBbMAsGA1UdDwQEAwIBBjAMBgNVHRMEBTADAQH/MB0GA1UdDgQWBBRZ
4ZTgDpksHL2qcpkFkxD2zVd16TAfBgNVHSMEGDAWgBRZ4ZTgDpksHL2qcpkFkxD2
zVd16TAMBggqhkjOPQQDAwUAA2gAMGUCMQD4IoqT2hTUn0jt7oXLdMJ8q4vLp6sg
wHfPiOr9gxreb+e6Oidwd2LDnC4OUqCWiF8CMAzwKs4SnDJYcMLf2vpkbuVE4dTH
Rglz+HGcTLWsFs4KxLsq7MuU+vJTBUeDJeDjdA==
-----END CERTIFICATE-----

-----BEGIN CERTIFICATE-----
MIIDxTCCAq2gAwIBAgIUEMdk6dVgOEIS2cCP0Q43P90Ps5YwDQYJKoZIhvcNAQEF
BQAwajELMAkGA1UEBhMCQ04xEzARBgNVBAoMCmlUcnVzQ2hpbmExHDAaBgNVBAsM
E0NoaW5hIFRydXN0IE5ldHdvcmsxKDAmBgNVBAMMH2lUcnVzQ2hpbmEgQ2xhc3Mg
MiBSb290IENBIC0gRzMwHhcNMTMwNDE4MDkzNjU2WhcNMzMwNDE4MDkzNjU2WjBq
MQswCQYDVQQGEwJDTjETMBEGA1UECgwKaVRydXNDaGluYTEcMBoGA1UECwwTQ2hp
bmEgVHJ1c3QgTmV0d29yazEoMCYGA1UEAwwfaVRydXNDaGluYSBDbGFzcyAyIFJv
b3QgQ0EgLSBHMzCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAOPPShpV
nJbMqqCw6Bz1kehnoPst9pkr0V9idOwU2oyS47/HjJXk9Rd5a9xfwkPO88trUpz5
4GmmwspDXjVFu9L0eFaRuH3KMha1Ak01citbF7cQLJlS7XI+tpkTGHEY5pt3EsQg
wykfZl/A1jrnSkspMS997r2Gim54cwz+mTMgDRhZsKK/lbOeBPpWtcFizjXYCqhw
WktvQfZBYi6o4sHCshnOswi4yV1p+LuFcQ2ciYdWvULh1eZhLxHbGXyznYHi0dGN
z+I9H8aXxqAQfHVhbdHNzi77hCxFjOy+hHrGsyzjrd2swVQ2iUWP8BfEQqGLqM1g
KgWKYfcTGdbPB1MCAwEAAaNjMGEwHQYDVR0OBBYEFG/oAMxTVe7y0+408CTAK8hA
uTyRMB8GA1UdIwQYMBaAFG/oAMxTVe7y0+408CTAK8hAuTyRMA8GA1UdEwEB/wQF
MAMBAf8wDgYDVR0PAQH/BAQDAgEGMA0GCSqGSIb3DQEBBQUAA4IBAQBLnUTfW7hp
emMbuUGCk7RBswzOT83bDM6824EkUnf+X0iKS95SUNGeeSWK2o/3ALJo5hi7GZr3
U8eLaWAcYizfO99UXMRBPw5PRR+gXGEronGUugLpxsjuynoLQu8GQAeysSXKbN1I
UugDo9u8igJORYA+5ms0s5sCUySqbQ2R5z/GoceyI9LdxIVa1RjVX8pYOj8JFwtn
DJN3ftSFvNMYwRuILKuqUYSHc2GPYiHVflDh5nDymCMOQFcFG3WsEuB+EYQPFgIU
1DHmdZcz7Llx8UOZXX2JupWCYzK1XhJb+r4hK5ncf/w8qGtYlmyJpxk3hr1TfUJX
Yf4Zr0fJsGuv
-----END CERTIFICATE-----`;

describe("SN digests as alipay-sdk computes them", () => {
  it("app_cert_sn of the app certificate", () => {
    expect(certificateFileSn(appCert, "ALIPAY_APP_CERT")).toBe("866efef280dec9137a87d047ac446315");
  });

  it("the SN of Alipay's public-key certificate", () => {
    expect(certificateFileSn(alipayCert, "ALIPAY_PUBLIC_CERT")).toBe("7513daaaa48aa3ba2e4018d84402479c");
  });

  it("alipay_root_cert_sn: the RSA-signed roots only, joined by _", () => {
    const roots = parseCertificates(rootCert, "ALIPAY_ROOT_CERT");
    expect(roots).toHaveLength(4);
    expect(roots.map((c) => signatureAlgorithmOid(c.raw))).toEqual([
      "1.2.156.10197.1.501",
      "1.2.840.113549.1.1.11",
      "1.2.840.10045.4.3.3",
      "1.2.840.113549.1.1.5",
    ]);
    expect(rootCertificateSn(rootCert)).toBe("687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6");
  });

  it("reads CRLF files, literal \\n and bare base64 DER the same way", () => {
    expect(rootCertificateSn(rootCert.replace(/\n/g, "\r\n"))).toBe(rootCertificateSn(rootCert));
    expect(certificateFileSn(appCert.replace(/\n/g, "\\n"), "ALIPAY_APP_CERT")).toBe("866efef280dec9137a87d047ac446315");
    const bare = appCert
      .split("\n")
      .filter((line) => !line.startsWith("-----"))
      .join("");
    expect(certificateFileSn(bare, "ALIPAY_APP_CERT")).toBe("866efef280dec9137a87d047ac446315");
  });

  it("takes the public key out of Alipay's certificate", () => {
    const spki = certificatePublicKey(alipayCert, "ALIPAY_PUBLIC_CERT").export({ type: "spki", format: "der" }).toString("base64");
    expect(spki.startsWith("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAhoVesfcGvUv1XvUndmX0rmSZ")).toBe(true);
  });

  it("refuses what is not a certificate, naming the setting", () => {
    expect(() => certificateFileSn("", "ALIPAY_APP_CERT")).toThrow(/ALIPAY_APP_CERT is empty/);
    expect(() => certificateFileSn("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", "ALIPAY_APP_CERT")).toThrow(
      /ALIPAY_APP_CERT holds no certificate/,
    );
    expect(() => certificateFileSn("bm90IGEgY2VydGlmaWNhdGU=", "ALIPAY_PUBLIC_CERT")).toThrow(AlipayCertificateError);
    // A bundle of only the SM2 and ECDSA roots has no RSA root.
    const ecOnly = parseCertificates(rootCert, "x")
      .filter((c) => !signatureAlgorithmOid(c.raw).startsWith("1.2.840.113549.1.1."))
      .map((c) => c.toString())
      .join("\n");
    expect(() => rootCertificateSn(ecOnly)).toThrow(/ALIPAY_ROOT_CERT holds no RSA-signed root certificate/);
  });
});

describe("configuration: certificate mode when ALIPAY_APP_CERT is set", () => {
  const dir = mkdtempSync(join(tmpdir(), "alipay-certs-"));
  const saved = { ...process.env };
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return `file:${join(dir, name)}`;
  };
  afterAll(() => {
    process.env = saved;
    resetConfig();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads the app key and the three certificates (no ALIPAY_PUBLIC_KEY needed); empty means public-key mode", async () => {
    process.env.ALIPAY_APP_PRIVATE_KEY = write("app.pem", "app-key");
    delete process.env.ALIPAY_PUBLIC_KEY;
    process.env.ALIPAY_APP_CERT = write("app.crt", appCert);
    process.env.ALIPAY_PUBLIC_CERT = write("alipay.crt", alipayCert);
    delete process.env.ALIPAY_ROOT_CERT;
    resetConfig();
    await expect(alipayKeys()).rejects.toThrow(/Missing configuration: ALIPAY_ROOT_CERT/);
    process.env.ALIPAY_ROOT_CERT = write("root.crt", rootCert);
    expect(await alipayKeys()).toEqual({
      appPrivateKey: "app-key",
      certificates: { appCert, alipayPublicCert: alipayCert, alipayRootCert: rootCert },
    });
    // serverless.yml sets the references empty in public-key mode.
    process.env.ALIPAY_APP_CERT = "";
    process.env.ALIPAY_PUBLIC_KEY = write("alipay.pem", "alipay-key");
    expect(await alipayKeys()).toEqual({ appPrivateKey: "app-key", alipayPublicKey: "alipay-key" });
  });
});

describe("a certificate pasted with its chain, in either order", () => {
  const app = generateRsaKeyPair();
  const alipay = generateRsaKeyPair();
  // A throwaway CA (the simulator's, openssl): Alipay's certificate and the RSA root that issued it.
  const issued = issueCertificates({
    appId: "2021000000000001",
    appPrivateKey: app.privateKeyPkcs8,
    alipayPrivateKey: alipay.privateKeyPkcs8,
  });
  const alipayLeaf = new X509Certificate(issued.alipayCert);
  const rsaRoot = parseCertificates(issued.rootCert, "root").find((c) => alipayLeaf.checkIssued(c))!;
  const gatewayWith = (alipayPublicCert: string) =>
    new AlipayGateway({
      appId: "2021000000000001",
      gatewayUrl: "http://127.0.0.1:9/gateway.do",
      notifyUrl: "http://127.0.0.1:9/alipay/notify",
      timeoutMs: 1000,
      appPrivateKey: app.privateKeyPkcs8,
      certificates: { appCert: `${rsaRoot.toString()}\n${issued.appCert}`, alipayPublicCert, alipayRootCert: issued.rootCert },
    });
  /** A notification as Alipay signs it (sorted k=v without sign and sign_type), with Alipay's key. */
  const notification = () => {
    const params: Record<string, string> = {
      app_id: "2021000000000001",
      out_trade_no: "pay1_1",
      total_amount: "1.00",
      trade_status: "TRADE_SUCCESS",
    };
    const content = Object.keys(params)
      .sort()
      .map((k) => `${k}=${params[k]}`)
      .join("&");
    return { ...params, sign_type: "RSA2", sign: createSign("RSA-SHA256").update(content).sign(alipay.privateKeyPkcs8, "base64") };
  };

  it.each([
    ["the certificate first", () => `${issued.alipayCert}\n${rsaRoot.toString()}`],
    ["its issuer first", () => `${rsaRoot.toString()}\n${issued.alipayCert}`],
    ["alone", () => issued.alipayCert],
  ])("verifies Alipay's notifications with the certificate's own key: %s", (_order, chain) => {
    expect(certificatePublicKey(chain(), "ALIPAY_PUBLIC_CERT").export({ type: "spki", format: "pem" }).toString().trim()).toBe(
      alipay.publicKey,
    );
    expect(certificateFileSn(chain(), "ALIPAY_PUBLIC_CERT")).toBe(certificateFileSn(issued.alipayCert, "x"));
    expect(gatewayWith(chain()).verifyNotification(notification())).toBe(true);
  });

  it("refuses certificates that are not one certificate and its issuers", () => {
    expect(() => certificateFileSn(`${issued.alipayCert}\n${issued.appCert}`, "ALIPAY_PUBLIC_CERT")).toThrow(
      /ALIPAY_PUBLIC_CERT holds 2 certificates that are not one certificate and its issuers/,
    );
  });
});
