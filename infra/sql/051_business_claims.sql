-- One account per business (issue 4): the registration's uniqueness claim is
-- now kind 'business', keyed on the business identity (NPWP for bodies, the
-- NIK for individuals or bodies without an NPWP, the passport for foreign
-- directors), with the digest taken under the identity's own kind
-- (HMAC(index key, "nik|<NIK>") for a NIK, as the old plain 'nik' claim).
-- The accounts registered before keep their rule: their 'nik' claims become
-- 'business' claims with the same digest. Run as oss_owner.
UPDATE oss.identity_claims c SET kind = 'business'
 WHERE c.kind = 'nik'
   AND NOT EXISTS (SELECT 1 FROM oss.identity_claims b
                    WHERE b.kind = 'business' AND b.digest = c.digest);
